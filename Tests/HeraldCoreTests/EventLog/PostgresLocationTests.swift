import Testing
@testable import HeraldCore

@Suite struct PostgresLocationTests {
    @Test func readsEveryPartOfTheURL() throws {
        let location = try PostgresLocation(url: "postgres://herald:s%40cret@db.local:6543/events?sslmode=verify-full")
        #expect(location.host == "db.local")
        #expect(location.port == 6543)
        #expect(location.user == "herald")
        #expect(location.password == "s@cret")
        #expect(location.database == "events")
        #expect(location.tls == .verifyFull)
        #expect(location.description == "db.local:6543/events")
    }

    @Test func defaultsToPort5432WithoutTLS() throws {
        let location = try PostgresLocation(url: "postgresql://herald@127.0.0.1/herald")
        #expect(location.port == 5432)
        #expect(location.password == nil)
        #expect(location.tls == .disable)
    }

    @Test func takesThePasswordFromAFileWithoutItsNewline() throws {
        let location = try PostgresLocation(url: "postgres://herald@h/db?password_file=/etc/herald/pg&sslmode=require") { path in
            #expect(path == "/etc/herald/pg")
            return "from-file\n"
        }
        #expect(location.password == "from-file")
        #expect(location.tls == .require)
    }

    @Test func theURLsOwnPasswordWinsOverTheFile() throws {
        let location = try PostgresLocation(url: "postgres://herald:inline@h/db?password_file=/nowhere") { _ in
            Issue.record("the file is not read when the URL has a password")
            return ""
        }
        #expect(location.password == "inline")
    }

    @Test(arguments: [
        ("postgres://herald@/db", "names no host"),
        ("postgres://127.0.0.1/db", "names no user"),
        ("postgres://herald@127.0.0.1", "names no database"),
        ("postgres://herald@127.0.0.1/db?sslmode=allow", "sslmode=allow is not one of"),
        ("postgres://herald@127.0.0.1/db?pool=3", "unknown URL parameter pool"),
        ("mysql://herald@127.0.0.1/db", "is not a postgres://"),
    ])
    func refusesWhatItCannotUse(url: String, reason: String) {
        #expect {
            try PostgresLocation(url: url)
        } throws: { error in
            String(describing: error).contains(reason)
        }
    }

    @Test func anUnreadablePasswordFileIsAnErrorNamingIt() {
        #expect {
            try PostgresLocation(url: "postgres://herald@h/db?password_file=/no/such/file")
        } throws: { error in
            String(describing: error).contains("password_file /no/such/file cannot be read")
        }
    }

    @Test func aBadURLsErrorHidesItsPassword() {
        #expect {
            try PostgresLocation(url: "postgres://herald:hunter2@h/db?bad=1")
        } throws: { error in
            !String(describing: error).contains("hunter2")
        }
        #expect(PostgresLocation.redacted("postgres://u:hunter2@h/db") == "postgres://u:****@h/db")
    }
}
