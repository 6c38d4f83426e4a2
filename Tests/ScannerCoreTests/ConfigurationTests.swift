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

    @Test(arguments: [
        ([:], "DEFINITIONS_BUCKET: is required but not set"),
        (["INFECTED_ACTION": "shred"], "INFECTED_ACTION: must be one of delete, quarantine, tag, got \"shred\""),
        (["INFECTED_ACTION": "quarantine"], "QUARANTINE_BUCKET: is required when INFECTED_ACTION is quarantine"),
        (["MAX_OBJECT_SIZE": "10GB"], "MAX_OBJECT_SIZE: must be a whole number, got \"10GB\""),
        (["MAX_OBJECT_SIZE": "0"], "MAX_OBJECT_SIZE: must be between 1 and 107374182400, got 0"),
        // libclamav 1.4 would silently scan only the first INT_MAX - 2 bytes.
        (["MAX_OBJECT_SIZE": "2147483648"], "MAX_OBJECT_SIZE: is 2147483648 bytes, but libclamav "),
        (["MAX_SCAN_TIME": "0"], "MAX_SCAN_TIME: must be between 1000 and 3600000, got 0"),
        (["PUBLISH_CLEAN_RESULTS": "maybe"], "PUBLISH_CLEAN_RESULTS: must be true or false, got \"maybe\""),
        (["DEFINITIONS_CHECK_INTERVAL": "-5"], "DEFINITIONS_CHECK_INTERVAL: must be between 0 and 86400, got -5"),
        (["TAG_KEY_TIME": "scan,time"], "TAG_KEY_TIME: \"scan,time\" is not a valid S3 tag key"),
    ])
    func badValuesNameTheVariable(environment: [String: String], message: String) {
        var environment = environment
        if message.hasPrefix("DEFINITIONS_BUCKET") == false { environment["DEFINITIONS_BUCKET"] = "defs" }
        let error = #expect(throws: ConfigurationError.self) { try ScannerConfiguration(environment: environment) }
        #expect(error?.description.hasPrefix(message) == true, "\(String(describing: error))")
    }
}
