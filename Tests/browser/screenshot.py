"""Takes Web/screenshot.png: the dashboard at 1280x900 after ~40 s of `herald demo`.

    .build-browser/venv/bin/python Tests/browser/screenshot.py [--seconds 40] [--out PNG]
                                   [--width 1280] [--height 900] [--dark] [--mobile]

The committed pictures: Web/screenshot.png (defaults), Web/screenshot-dark.png (--dark) and
Web/screenshot-phone.png (--width 390 --height 844 --mobile), Web/screenshot-chart.png
(--chart homeassistant/greenhouse --seconds 90).

Needs what `make browser-test` needs (it builds Herald and the venv). Uses the same private
mosquitto and Herald as the test, with the greenhouse alert rule, so the picture shows the demo's
devices (Zigbee2MQTT, Tasmota, ESPHome, OctoPrint) as cards, sensors, jobs and, when the demo's
temperature has crossed 30 °C, an alert.
"""
import argparse
import time
from pathlib import Path

from harness import REPO, Stack, make_driver


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40, help="how long the demo feed runs first")
    ap.add_argument("--out", type=Path, default=REPO / "Web" / "screenshot.png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--dark", action="store_true", help="prefers-color-scheme: dark")
    ap.add_argument("--chart", metavar="DEVICE_ID", help="open this device's first reading's chart (1 h)")
    ap.add_argument("--mobile", action="store_true", help="a phone's viewport (touch, no scrollbars)")
    args = ap.parse_args()
    stack = Stack()
    driver = None
    try:
        if stack.alert_rules_refused:
            print("note: Herald refused the alert rule:", stack.alert_rules_refused)
        stack.start_mosquitto()
        stack.start_herald()
        stack.start_demo()
        driver = make_driver(stack.tmp, args.width, args.height)
        # The viewport itself, not the window around it, has the size asked for.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": args.width, "height": args.height, "deviceScaleFactor": 1, "mobile": args.mobile})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": "dark" if args.dark else "light"}]})
        driver.get(stack.origin + "/")
        time.sleep(args.seconds)
        if args.chart:
            from selenium.webdriver.common.by import By
            driver.find_element(By.CSS_SELECTOR, f'[data-device-id="{args.chart}"] [data-testid="open-chart"]').click()
            driver.find_element(By.CSS_SELECTOR, '#chart [data-range="1h"]').click()
            time.sleep(3)  # a picture, not a test: the chart has loaded by then or the picture says so
        driver.save_screenshot(str(args.out))
        print(f"wrote {args.out}")
        for entry in driver.get_log("browser"):
            print("console:", entry["level"], entry["message"])
    finally:
        if driver:
            driver.quit()
        stack.close()


if __name__ == "__main__":
    main()
