import Definitions
import Environment
import Foundation
import Testing

@testable import UpdaterCore

@Suite("Updater configuration from the environment")
struct ConfigurationTests {
    let minimal = ["DEFINITIONS_BUCKET": "defs"]

    private func configuration(_ extra: [String: String]) throws -> UpdaterConfiguration {
        try UpdaterConfiguration(environment: minimal.merging(extra) { $1 })
    }

    private func error(_ environment: [String: String]) -> ConfigurationError? {
        do {
            _ = try UpdaterConfiguration(environment: environment)
            return nil
        } catch let error as ConfigurationError {
            return error
        } catch {
            return nil
        }
    }

    @Test func defaults() throws {
        let configuration = try UpdaterConfiguration(environment: minimal)
        #expect(configuration.definitions == DefinitionsLocation(bucket: "defs", prefix: "clamav/"))
        #expect(configuration.eventBusName == nil)
        #expect(configuration.officialDatabases)
        #expect(configuration.databaseMirrors.isEmpty)
        #expect(configuration.privateMirrors.isEmpty)
        #expect(configuration.customURLs.isEmpty)
        #expect(configuration.minUpdateInterval == 3600)
        #expect(configuration.freshclamTimeout == 300)
        #expect(configuration.freshclamPath == "freshclam")
        #expect(configuration.freshclamMaxAttempts == 3)
        #expect(configuration.canaryFile == nil)
        #expect(configuration.workDirectory == "/tmp/definition-updater")
    }

    @Test func workDirectoryFollowsTheVariableThenTMPDIR() throws {
        #expect(try configuration(["UPDATER_WORK_DIRECTORY": "/var/updater"]).workDirectory == "/var/updater")
        #expect(try configuration(["TMPDIR": "/scratch"]).workDirectory == "/scratch/definition-updater")
    }

    @Test func bucketIsRequired() {
        #expect(error([:])?.variable == "DEFINITIONS_BUCKET")
        #expect(error(["DEFINITIONS_BUCKET": "  "])?.description == "DEFINITIONS_BUCKET: is required but not set")
    }

    @Test(arguments: [("clamav", "clamav/"), ("/a/b", "a/b/"), ("a/b/", "a/b/"), ("", "clamav/")])
    func prefixIsNormalised(raw: String, expected: String) throws {
        #expect(try configuration(["DEFINITIONS_PREFIX": raw]).definitions.prefix == expected)
    }

    @Test func optionalValues() throws {
        let configuration = try configuration([
            "EVENT_BUS_NAME": "bus",
            "CLAMAV_DATABASE_MIRRORS": "db.local.example, https://mirror.example/clamav",
            "CLAMAV_PRIVATE_MIRRORS": "http://10.0.0.1:8080",
            "CLAMAV_CUSTOM_URLS": "https://sigs.example/a.ndb,http://127.0.0.1:9/b.hdb",
            "MIN_UPDATE_INTERVAL": "0",
            "FRESHCLAM_TIMEOUT": "60",
            "FRESHCLAM_PATH": "/opt/clamav/bin/freshclam",
            "FRESHCLAM_MAX_ATTEMPTS": "1",
            "CANARY_FILE": "/opt/canary.bin",
        ])
        #expect(configuration.eventBusName == "bus")
        #expect(configuration.databaseMirrors == ["db.local.example", "https://mirror.example/clamav"])
        #expect(configuration.privateMirrors == ["http://10.0.0.1:8080"])
        #expect(configuration.customURLs.map(\.absoluteString) == ["https://sigs.example/a.ndb", "http://127.0.0.1:9/b.hdb"])
        #expect(configuration.minUpdateInterval == 0)
        #expect(configuration.freshclamTimeout == 60)
        #expect(configuration.freshclamPath == "/opt/clamav/bin/freshclam")
        #expect(configuration.freshclamMaxAttempts == 1)
        #expect(configuration.canaryFile == "/opt/canary.bin")
    }

    @Test(arguments: [("true", true), ("FALSE", false), ("1", true), ("0", false), ("yes", true), ("no", false)])
    func officialDatabasesBoolean(raw: String, expected: Bool) throws {
        let configuration = try configuration(["CLAMAV_OFFICIAL_DATABASES": raw, "CLAMAV_CUSTOM_URLS": "http://h/x.ndb"])
        #expect(configuration.officialDatabases == expected)
    }

    @Test(
        arguments: [
            (["CLAMAV_OFFICIAL_DATABASES": "maybe"], "CLAMAV_OFFICIAL_DATABASES: must be true or false, got \"maybe\""),
            (["MIN_UPDATE_INTERVAL": "1h"], "MIN_UPDATE_INTERVAL: must be a whole number, got \"1h\""),
            (["MIN_UPDATE_INTERVAL": "-5"], "MIN_UPDATE_INTERVAL: must be between 0 and 31536000, got -5"),
            (["FRESHCLAM_TIMEOUT": "0"], "FRESHCLAM_TIMEOUT: must be between 1 and 86400, got 0"),
            (["FRESHCLAM_TIMEOUT": "soon"], "FRESHCLAM_TIMEOUT: must be a whole number, got \"soon\""),
            (["FRESHCLAM_MAX_ATTEMPTS": "0"], "FRESHCLAM_MAX_ATTEMPTS: must be between 1 and 100, got 0"),
            (["CLAMAV_CUSTOM_URLS": "ftp://h/x.ndb"], "CLAMAV_CUSTOM_URLS: \"ftp://h/x.ndb\" is not an http or https URL"),
            (["CLAMAV_CUSTOM_URLS": "not a url"], "CLAMAV_CUSTOM_URLS: \"not a url\" is not an http or https URL"),
            (
                ["CLAMAV_CUSTOM_URLS": "https://h/readme.txt"],
                "CLAMAV_CUSTOM_URLS: \"https://h/readme.txt\" does not end in a ClamAV database file name (such as NAME.ndb, NAME.hdb, NAME.ldb, NAME.yar)"
            ),
            (["CLAMAV_DATABASE_MIRRORS": "file:///srv/db"], "CLAMAV_DATABASE_MIRRORS: \"file:///srv/db\" is not an http or https URL"),
            (["CLAMAV_PRIVATE_MIRRORS": "mirror one"], "CLAMAV_PRIVATE_MIRRORS: \"mirror one\" is neither a host name nor an http or https URL"),
        ] as [([String: String], String)])
    func malformedValuesNameTheVariableAndValue(environment: [String: String], message: String) {
        #expect(error(minimal.merging(environment) { $1 })?.description == message)
    }

    @Test func customOnlyNeedsCustomURLs() throws {
        let failure = error(minimal.merging(["CLAMAV_OFFICIAL_DATABASES": "false"]) { $1 })
        #expect(failure?.variable == "CLAMAV_CUSTOM_URLS")
        #expect(failure?.description.contains("CLAMAV_OFFICIAL_DATABASES is false") == true)
        let configuration = try configuration(["CLAMAV_OFFICIAL_DATABASES": "false", "CLAMAV_CUSTOM_URLS": "http://127.0.0.1:1/a.ndb"])
        #expect(!configuration.officialDatabases)
    }
}

@Suite("freshclam.conf")
struct FreshclamConfigurationTests {
    @Test func officialDatabasesWithDefaultMirror() {
        let text = FreshclamConfiguration(
            databaseDirectory: "/tmp/work/staging",
            updater: UpdaterConfiguration(definitions: DefinitionsLocation(bucket: "b")),
            databaseOwner: "root"
        ).render()
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            "DatabaseDirectory /tmp/work/staging", "DatabaseMirror database.clamav.net", "DNSDatabaseInfo no",
            "ScriptedUpdates yes", "CompressLocalDatabase no", "Checks 0", "Foreground yes", "DatabaseOwner root",
            "ConnectTimeout 30", "ReceiveTimeout 120", "MaxAttempts 3", "LogVerbose yes",
        ] {
            #expect(lines.contains(expected), "missing \(expected)")
        }
        #expect(!text.contains("ExcludeDatabase"))
        #expect(!text.contains("NotifyClamd"))
        #expect(!text.contains("UpdateLogFile"))
    }

    @Test func customOnlyStillNamesAMirrorAndExcludesOfficialDatabases() {
        let updater = UpdaterConfiguration(
            definitions: DefinitionsLocation(bucket: "b"),
            officialDatabases: false,
            databaseMirrors: ["mirror.example"],
            privateMirrors: ["https://private.example"],
            customURLs: [URL(string: "http://127.0.0.1:8000/custom.ndb")!],
            freshclamTimeout: 20
        )
        let lines = FreshclamConfiguration(databaseDirectory: "/d", updater: updater, databaseOwner: nil).render().split(separator: "\n")
        #expect(lines.contains("DatabaseMirror mirror.example"))
        #expect(!lines.contains("DatabaseMirror database.clamav.net"))
        #expect(lines.contains("PrivateMirror https://private.example"))
        #expect(lines.contains("ExcludeDatabase daily"))
        #expect(lines.contains("ExcludeDatabase main"))
        #expect(lines.contains("ExcludeDatabase bytecode"))
        #expect(lines.contains("DatabaseCustomURL http://127.0.0.1:8000/custom.ndb"))
        #expect(lines.contains("ConnectTimeout 20"))
        #expect(lines.contains("ReceiveTimeout 20"))
        #expect(!lines.contains { $0.hasPrefix("DatabaseOwner") })
    }

    @Test func currentUserHasAName() {
        // The tests run as a user with a passwd entry (root here); Lambda's user may have none.
        #expect(FreshclamConfiguration.currentUserName()?.isEmpty == false)
    }
}
