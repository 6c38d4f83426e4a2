import Foundation
import Logging
import Observability
import TestSupport
import Testing

/// 2026-11-22T04:10:00.123Z
let fixedDate = Date(timeIntervalSince1970: 1_795_320_600.123)

@Suite("JSON log lines")
struct JSONLogTests {
    func logger(_ collector: LineCollector, level: Logger.Level = .info) -> Logger {
        Logger(label: "scanner.worker") { label in
            JSONLogHandler(label: label, logLevel: level, sink: collector.sink, clock: { fixedDate })
        }
    }

    @Test func lineHasTheFixedFieldsAndFlattenedMetadataAndNothingElse() throws {
        let collector = LineCollector()
        var logger = logger(collector)
        logger[metadataKey: "requestID"] = "8476a536"
        logger.info(
            "object scanned",
            metadata: [
                "bucket": "uploads",
                "key": "a/b c.zip",
                "verdict": "CLEAN",
                "size": .stringConvertible(184),
                "durationMs": .stringConvertible(41.5),
                "kept": .stringConvertible(true),
                "definitions": ["daily": "27461", "main": "62"],
                "threats": ["Win.Test.EICAR_HDB-1", "Other"],
            ])

        #expect(collector.lines.count == 1)
        let line = collector.lines[0]
        #expect(!line.contains("\n"))
        #expect(line.hasPrefix(#"{"timestamp":"2026-11-22T04:10:00.123Z","level":"INFO","message":"object scanned","logger":"scanner.worker","#))
        let object = try #require(try collector.objects().first)
        #expect(
            Set(object.keys) == [
                "timestamp", "level", "message", "logger", "requestID", "bucket", "key", "verdict", "size",
                "durationMs", "kept", "definitions.daily", "definitions.main", "threats",
            ])
        #expect(object["requestID"] as? String == "8476a536")
        #expect(object["key"] as? String == "a/b c.zip")
        #expect(object["size"] as? Int == 184)
        #expect(object["durationMs"] as? Double == 41.5)
        #expect(object["kept"] as? Bool == true)
        #expect(object["definitions.daily"] as? String == "27461")
        #expect(object["threats"] as? [String] == ["Win.Test.EICAR_HDB-1", "Other"])
    }

    @Test func quotesNewlinesControlCharactersAndUnicodeAreEscapedAndSurviveARoundTrip() throws {
        let collector = LineCollector()
        let logger = logger(collector)
        let nasty = "say \"hi\"\\ \n\r\t\u{01}\u{1F} ünïcødé 🦠 \u{2028}end"
        logger.warning("\(nasty)", metadata: [nasty: .string(nasty)])

        let line = try #require(collector.lines.first)
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{2028}"))
        #expect(line.contains(#"say \"hi\"\\ \n\r\t\u0001\u001f ünïcødé 🦠 \u2028end"#))
        let object = try #require(try collector.objects().first)
        #expect(object["message"] as? String == nasty)
        #expect(object[nasty] as? String == nasty)
        #expect(object["level"] as? String == "WARN")
    }

    @Test func metadataCannotShadowTheFixedFields() throws {
        let collector = LineCollector()
        logger(collector).error("real", metadata: ["message": "fake", "level": "fake"])
        let object = try #require(try collector.objects().first)
        #expect(object["message"] as? String == "real")
        #expect(object["level"] as? String == "ERROR")
        #expect(object["metadata.message"] as? String == "fake")
        #expect(object["metadata.level"] as? String == "fake")
    }

    @Test func anErrorPassedToTheLoggerBecomesTheErrorField() throws {
        let collector = LineCollector()
        logger(collector).error("download failed", error: TestFailure("GetObject answered 403"))
        let object = try #require(try collector.objects().first)
        #expect(object["error"] as? String == "GetObject answered 403")
        #expect(Set(object.keys) == ["timestamp", "level", "message", "logger", "error"])
    }

    @Test func levelsBelowTheThresholdAreDroppedAndLevelsMapToLambdaNames() throws {
        let collector = LineCollector()
        let logger = logger(collector, level: .info)
        logger.debug("hidden")
        logger.notice("n")
        logger.critical("c")
        #expect(try collector.objects().map { $0["level"] as? String } == ["INFO", "FATAL"])
        #expect(JSONLogHandler.lambdaLevel(.trace) == "TRACE")
    }
}

@Suite("Embedded Metric Format lines")
struct EMFTests {
    @Test func documentHasTheShapeOfTheEMFSpecification() throws {
        let collector = LineCollector()
        let emitter = MetricsEmitter(
            namespace: "S3ClamAVScanner", defaultDimensions: ["Service": "scanner"], sink: collector.sink,
            clock: { fixedDate })
        emitter.emit(
            [
                Metric("ObjectsScanned", 1, unit: .count),
                Metric("BytesScanned", 184, unit: .bytes),
                Metric("ScanLatency", values: [41, 12.5], unit: .milliseconds),
            ],
            dimensions: ["Verdict": "CLEAN"],
            properties: ["requestID": "8476a536"])

        #expect(collector.lines.count == 1)
        let object = try #require(try collector.objects().first)
        let aws = try #require(object["_aws"] as? [String: Any])
        #expect(aws["Timestamp"] as? Int == 1_795_320_600_123)
        let directives = try #require(aws["CloudWatchMetrics"] as? [[String: Any]])
        #expect(directives.count == 1)
        #expect(directives[0]["Namespace"] as? String == "S3ClamAVScanner")
        #expect(directives[0]["Dimensions"] as? [[String]] == [["Service", "Verdict"]])
        let metrics = try #require(directives[0]["Metrics"] as? [[String: String]])
        #expect(
            metrics == [
                ["Name": "ObjectsScanned", "Unit": "Count"],
                ["Name": "BytesScanned", "Unit": "Bytes"],
                ["Name": "ScanLatency", "Unit": "Milliseconds"],
            ])
        #expect(object["Service"] as? String == "scanner")
        #expect(object["Verdict"] as? String == "CLEAN")
        #expect(object["ObjectsScanned"] as? Int == 1)
        #expect(object["BytesScanned"] as? Int == 184)
        #expect(object["ScanLatency"] as? [Double] == [41, 12.5])
        #expect(object["requestID"] as? String == "8476a536")
        #expect(Set(object.keys) == ["_aws", "Service", "Verdict", "ObjectsScanned", "BytesScanned", "ScanLatency", "requestID"])
    }

    @Test func noDimensionsGivesOneEmptyDimensionSetAndNoMetricsWritesNothing() throws {
        let collector = LineCollector()
        let emitter = MetricsEmitter(namespace: "NS", sink: collector.sink, clock: { fixedDate })
        emitter.emit([])
        #expect(collector.lines.isEmpty)
        emitter.emit([Metric("DefinitionsAge", 3600, unit: .seconds)])
        let object = try #require(try collector.objects().first)
        let directive = try #require((object["_aws"] as? [String: Any])?["CloudWatchMetrics"] as? [[String: Any]]).first
        #expect(directive?["Dimensions"] as? [[String]] == [[]])
        #expect(object["DefinitionsAge"] as? Int == 3600)
    }
}
