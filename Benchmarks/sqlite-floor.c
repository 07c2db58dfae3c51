/*
 * What SQLite alone costs for the rows Herald's writer stores per MQTT message: one event (the
 * events table with its AUTOINCREMENT id and two indexes, as in EventLog+Schema.swift) and one
 * receipt, through prepared statements with static binds, 20 messages per transaction (the
 * broker's default in-flight window), WAL and synchronous=NORMAL as Herald runs. Variants leave one
 * part out to show what each costs. Prints CPU microseconds per message; compare with the
 * writer thread's figure from Scripts/bench-ingest.sh.
 *
 *   cc -O2 Benchmarks/sqlite-floor.c -lsqlite3 -o /tmp/sqlite-floor && /tmp/sqlite-floor [dir]
 *
 * A measuring probe, not part of Herald (whose C stays behind the CMosquitto module).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { messages = 200000 };

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void must(int code, sqlite3 *db, const char *what) {
    if (code != SQLITE_OK && code != SQLITE_DONE) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        _exit(1);
    }
}

/* One run over a fresh database; returns CPU microseconds per message. */
static double run(const char *dir, int autoincrement, int receipts, int indexes, int batch) {
    char path[4096], side[4200], schema[1024];
    snprintf(path, sizeof path, "%s/sqlite-floor.sqlite", dir);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path); unlink(side);
    snprintf(side, sizeof side, "%s-shm", path); unlink(side);
    sqlite3 *db;
    must(sqlite3_open(path, &db), db, "open");
    must(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", 0, 0, 0), db, "pragmas");
    snprintf(schema, sizeof schema,
             "CREATE TABLE events(id INTEGER PRIMARY KEY %s, channel TEXT NOT NULL, type TEXT NOT NULL, key TEXT,"
             " time INTEGER NOT NULL, data TEXT NOT NULL, source TEXT);%s"
             "CREATE TABLE mqtt_receipts(seq INTEGER PRIMARY KEY, mid INTEGER NOT NULL, topic TEXT NOT NULL, digest TEXT NOT NULL);",
             autoincrement ? "AUTOINCREMENT" : "",
             indexes ? "CREATE INDEX events_by_channel ON events(channel, id);"
                       "CREATE INDEX events_by_channel_key ON events(channel, key, id);" : "");
    must(sqlite3_exec(db, schema, 0, 0, 0), db, "schema");
    sqlite3_stmt *insert, *receipt, *begin, *commit;
    must(sqlite3_prepare_v2(db, "INSERT INTO events(channel, type, key, time, data, source) VALUES (?, ?, ?, ?, ?, ?)", -1, &insert, 0), db, "prepare");
    must(sqlite3_prepare_v2(db, "INSERT INTO mqtt_receipts(mid, topic, digest) VALUES (?, ?, ?)", -1, &receipt, 0), db, "prepare");
    must(sqlite3_prepare_v2(db, "BEGIN", -1, &begin, 0), db, "prepare");
    must(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, 0), db, "prepare");
    const char *source = "{\"mqtt\":{\"topic\":\"sensors/bench/backlog\",\"qos\":1,\"retain\":false}}";
    char data[100];
    double start = cpu_seconds();
    for (int n = 0; n < messages;) {
        must(sqlite3_step(begin), db, "begin"); sqlite3_reset(begin);
        for (int i = 0; i < batch; i++, n++) {
            int length = snprintf(data, sizeof data, "{\"n\": %d, \"value\": 20.5}", n);
            sqlite3_bind_text(insert, 1, "sensors", -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 2, "reading", -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 3, "bench/backlog", -1, SQLITE_STATIC);
            sqlite3_bind_int64(insert, 4, 1700000000000LL + n);
            sqlite3_bind_text(insert, 5, data, length, SQLITE_STATIC);
            sqlite3_bind_text(insert, 6, source, -1, SQLITE_STATIC);
            must(sqlite3_step(insert), db, "insert"); sqlite3_reset(insert);
            if (receipts) {
                sqlite3_bind_int64(receipt, 1, n % 65535);
                sqlite3_bind_text(receipt, 2, "sensors/bench/backlog", -1, SQLITE_STATIC);
                sqlite3_bind_text(receipt, 3, "cbf29ce484222325:23", -1, SQLITE_STATIC);
                must(sqlite3_step(receipt), db, "receipt"); sqlite3_reset(receipt);
            }
        }
        must(sqlite3_step(commit), db, "commit"); sqlite3_reset(commit);
    }
    double microseconds = (cpu_seconds() - start) / messages * 1e6;
    sqlite3_finalize(insert); sqlite3_finalize(receipt); sqlite3_finalize(begin); sqlite3_finalize(commit);
    sqlite3_close(db);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path); unlink(side);
    snprintf(side, sizeof side, "%s-shm", path); unlink(side);
    return microseconds;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    printf("SQLite alone, CPU µs per message (%d messages per variant, SQLite %s)\n", messages, sqlite3_libversion());
    printf("%-6s %10s %14s %13s %12s %16s\n", "run", "as Herald", "no AUTOINCR.", "no receipts", "no indexes", "100 per commit");
    for (int round = 1; round <= 3; round++) {
        printf("%-6d %10.2f %14.2f %13.2f %12.2f %16.2f\n", round,
               run(dir, 1, 1, 1, 20), run(dir, 0, 1, 1, 20), run(dir, 1, 0, 1, 20), run(dir, 1, 1, 0, 20), run(dir, 1, 1, 1, 100));
    }
    return 0;
}
