import ClamAV
import Environment
import Testing

@testable import ScannerCore

@Suite("Scanner configuration")
struct ConfigurationTests {
    @Test func defaultsFollowTheDesign() throws {
        let configuration = try ScannerConfiguration(environment: ["DEFINITIONS_BUCKET": "defs"])
        #expect(configuration.definitions.bucket == "defs")
        #expect(configuration.definitions.prefix == "clamav/")
        #expect(configuration.eventBusName == nil)
        #expect(configuration.infectedAction == .delete)
        #expect(configuration.publishCleanResults)
        #expect(configuration.definitionsCheckInterval == 300)
        #expect(configuration.maxDefinitionsAgeHours == 48)
        #expect(configuration.maxObjectSize == 2_000_000_000)
        #expect(configuration.limits.maxFileSize == configuration.maxObjectSize)
        #expect(configuration.limits.maxScanSize == configuration.maxObjectSize)
        #expect(configuration.limits.maxScanTimeMilliseconds == 120_000)
        #expect(configuration.scanConcurrency == 2)
        #expect(configuration.serviceName == "scanner")
        #expect(configuration.tagKeys == TagKeys())
    }

    @Test func everyVariableIsRead() throws {
        let configuration = try ScannerConfiguration(environment: [
            "DEFINITIONS_BUCKET": "defs", "DEFINITIONS_PREFIX": "/db/v1", "EVENT_BUS_NAME": "scan-bus",
            "INFECTED_ACTION": "Quarantine", "QUARANTINE_BUCKET": "jail", "MAX_OBJECT_SIZE": "1024",
            "PUBLISH_CLEAN_RESULTS": "false", "DEFINITIONS_CHECK_INTERVAL": "60", "MAX_DEFINITIONS_AGE": "24",
            "TAG_KEY_STATUS": "av-status", "MAX_SCAN_SIZE": "4096", "MAX_SCAN_TIME": "5000", "SCAN_CONCURRENCY": "8",
            "SERVICE_NAME": "scanner-worker", "AWS_LAMBDA_FUNCTION_NAME": "ignored-when-SERVICE_NAME-is-set",
        ])
        #expect(configuration.definitions.prefix == "db/v1/")
        #expect(configuration.eventBusName == "scan-bus")
        #expect(configuration.infectedAction == .quarantine(bucket: "jail"))
        #expect(configuration.maxObjectSize == 1024)
        #expect(configuration.limits.maxScanSize == 4096)
        #expect(configuration.limits.maxScanTimeMilliseconds == 5000)
        #expect(configuration.scanConcurrency == 8)
        #expect(configuration.serviceName == "scanner-worker")
        #expect(!configuration.publishCleanResults)
        #expect(configuration.definitionsCheckInterval == 60)
        #expect(configuration.maxDefinitionsAgeHours == 24)
        #expect(configuration.tagKeys.status == "av-status")
    }

    /// Objects over what libclamav scans whole are scanned in windows, up to 100 GiB.
    @Test func largeObjectsAreScannedInWindows() throws {
        let worker = try ScannerConfiguration(environment: ["DEFINITIONS_BUCKET": "defs", "MAX_OBJECT_SIZE": "107374182400"])
        #expect(worker.limits.maxFileSize == 2_147_483_645, "capped where libclamav 1.4 caps it")
        #expect(worker.largeFiles == LargeFileScanning(maxSize: 107_374_182_400, windowSize: 1 << 30, overlap: 1 << 20))
        let small = try ScannerConfiguration(environment: ["DEFINITIONS_BUCKET": "defs", "MAX_OBJECT_SIZE": "8000000", "MAX_FILE_SIZE": "1000000"])
        #expect(small.largeFiles == LargeFileScanning(maxSize: 8_000_000, windowSize: 750_000, overlap: 187_500))
        #expect(try ScannerConfiguration(environment: ["DEFINITIONS_BUCKET": "defs"]).largeFiles == nil)
    }

    @Test func coverageVariablesAreRead() throws {
        let configuration = try ScannerConfiguration(environment: [
            "DEFINITIONS_BUCKET": "defs", "FILE_TYPE_POLICY": "uploads/avatars/=png, jpeg;docs=PDF", "BLOCKED_ACTION": "delete",
            "SCAN_FILTERS": #"{"uploads": {"exclude_suffixes": [".part"], "min_size": 1}}"#, "SCAN_QUEUE_URL": "https://sqs/q",
            "RESCAN_BUCKETS": "uploads, docs/2026/", "RESCAN_WINDOW": "72", "TAG_KEY_FILE_TYPE": "av-type",
        ])
        #expect(configuration.blockedAction == .delete)
        #expect(configuration.fileTypePolicy?.rule(bucket: "uploads", key: "avatars/a.png")?.allowed == ["PNG", "JPEG"])
        #expect(configuration.fileTypePolicy?.rule(bucket: "uploads", key: "other/a.png") == nil)
        #expect(configuration.filters?.exclusion(bucket: "uploads", key: "a.part", size: 5) != nil)
        #expect(configuration.filters?.exclusion(bucket: "uploads", key: "a.txt", size: 0) != nil)
        #expect(configuration.filters?.exclusion(bucket: "uploads", key: "a.txt", size: 1) == nil)
        #expect(configuration.rescan?.targets == [.init(bucket: "uploads", prefix: ""), .init(bucket: "docs", prefix: "2026/")])
        #expect(configuration.rescan?.windowHours == 72)
        #expect(configuration.tagKeys.fileType == "av-type")
        let defaults = try ScannerConfiguration(environment: ["DEFINITIONS_BUCKET": "defs"])
        #expect(defaults.blockedAction == .tag && defaults.fileTypePolicy == nil && defaults.filters == nil && defaults.rescan == nil)
    }

    @Test(arguments: [
        ([:], "DEFINITIONS_BUCKET: is required but not set"),
        (["INFECTED_ACTION": "shred"], "INFECTED_ACTION: must be one of delete, quarantine, tag, got \"shred\""),
        (["INFECTED_ACTION": "quarantine"], "QUARANTINE_BUCKET: is required when INFECTED_ACTION is quarantine"),
        (["MAX_OBJECT_SIZE": "10GB"], "MAX_OBJECT_SIZE: must be a whole number, got \"10GB\""),
        (["MAX_OBJECT_SIZE": "0"], "MAX_OBJECT_SIZE: must be between 1 and 107374182400, got 0"),
        // libclamav 1.4 would silently scan only the first INT_MAX - 2 bytes of a file.
        (["MAX_OBJECT_SIZE": "3000000000", "MAX_FILE_SIZE": "2147483648"], "MAX_FILE_SIZE: is 2147483648 bytes, but libclamav "),
        (["MAX_OBJECT_SIZE": "1000000", "MAX_FILE_SIZE": "2000000"], "MAX_FILE_SIZE: must be between 65536 and 1000000, got 2000000"),
        (["MAX_SCAN_TIME": "0"], "MAX_SCAN_TIME: must be between 1000 and 3600000, got 0"),
        (["PUBLISH_CLEAN_RESULTS": "maybe"], "PUBLISH_CLEAN_RESULTS: must be true or false, got \"maybe\""),
        (["DEFINITIONS_CHECK_INTERVAL": "-5"], "DEFINITIONS_CHECK_INTERVAL: must be between 0 and 86400, got -5"),
        (["TAG_KEY_TIME": "scan,time"], "TAG_KEY_TIME: \"scan,time\" is not a valid S3 tag key"),
        (["TAG_KEY_FILE_TYPE": "bad*key"], "TAG_KEY_FILE_TYPE: \"bad*key\" is not a valid S3 tag key"),
        (["BLOCKED_ACTION": "quarantine"], "QUARANTINE_BUCKET: is required when BLOCKED_ACTION is quarantine"),
        (["FILE_TYPE_POLICY": "uploads"], "FILE_TYPE_POLICY: \"uploads\" is not BUCKET[/PREFIX]=TYPE,TYPE"),
        (["FILE_TYPE_POLICY": "uploads=image/png"], "FILE_TYPE_POLICY: \"uploads=image/png\" must list libclamav type names"),
        (["FILE_TYPE_POLICY": "uploads=PNG;uploads=JPEG"], "FILE_TYPE_POLICY: \"uploads\" has two rules"),
        (["SCAN_FILTERS": "uploads/in/"], "SCAN_FILTERS: is not a JSON object keyed by bucket name"),
        (["SCAN_FILTERS": #"{"uploads": {"exclude_prefix": ["tmp/"]}}"#], "SCAN_FILTERS: \"uploads\" has the unknown field \"exclude_prefix\""),
        (["SCAN_FILTERS": #"{"uploads": {"min_size": "1"}}"#], "SCAN_FILTERS: \"uploads\".min_size must be a whole number"),
        (["SCAN_FILTERS": #"{"uploads": {"include_suffixes": [""]}}"#], "SCAN_FILTERS: \"uploads\".include_suffixes must be a list of non-empty"),
        (["RESCAN_BUCKETS": "uploads"], "SCAN_QUEUE_URL: is required when RESCAN_BUCKETS is set"),
        (["RESCAN_BUCKETS": "uploads", "SCAN_QUEUE_URL": "q", "RESCAN_WINDOW": "0"], "RESCAN_WINDOW: must be between 1 and 87600, got 0"),
    ])
    func badValuesNameTheVariable(environment: [String: String], message: String) {
        var environment = environment
        if message.hasPrefix("DEFINITIONS_BUCKET") == false { environment["DEFINITIONS_BUCKET"] = "defs" }
        let error = #expect(throws: ConfigurationError.self) { try ScannerConfiguration(environment: environment) }
        #expect(error?.description.hasPrefix(message) == true, "\(String(describing: error))")
    }
}
