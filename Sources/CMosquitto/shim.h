#ifndef HERALD_CMOSQUITTO_SHIM_H
#define HERALD_CMOSQUITTO_SHIM_H
// The only door to libmosquitto; Swift code outside MQTT/Mosquitto*.swift never imports it.
#include <mosquitto.h>
#endif
