import AWSClients
import ArgumentParser
import AsyncHTTPClient
import ClamAV
import Definitions
import Environment
import Foundation
import Logging
import ScannerCore
import UpdaterCore

/// Drives the scanner's real per-object path (head, tags, download to a temporary file, scan,
/// tag, publish the result event) against an S3 endpoint, with the definitions loaded once, and
/// prints per-object latency, throughput and the process's peak memory as one JSON object.
/// Not a test: bench/run.sh runs it next to `clamscan` and `clamdscan`.
@main
struct ScannerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scanner-bench",
        abstract: "Benchmark the warm scanner against an S3 endpoint (see bench/run.sh).",
        subcommands: [Publish.self, Measure.self, ReloadCosts.self, EngineCosts.self, EnqueueCosts.self, LambdaPoller.self]
    )
}

/// Runs `body` with the scanner's service built from `environment` as in production (errors
/// logged only), and shuts the service down however `body` ends.
func withScannerService(_ environment: [String: String], _ body: (ScannerService) async throws -> Void) async throws {
    var logger = Logger(label: "scanner-bench")
    logger.logLevel = .error
    let service = try ScannerService(environment: environment, logger: logger, emitsMetrics: false)
    do {
        try await body(service)
    } catch {
        try? await service.shutdown()
        throw error
    }
    try await service.shutdown()
}

/// `scanner-bench publish --database DIR`: what `definition-updater publish` does, in its own
/// process so that the measuring process never holds a second engine.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Publish a local database folder to DEFINITIONS_BUCKET/DEFINITIONS_PREFIX.")

    @Option(help: ArgumentHelp("The database folder.", valueName: "DIR"))
    var database: String

    func run() async throws {
        // What `definition-updater publish` does: the same validation, then the publication.
        let logger = Logger(label: "scanner-bench")
        let service = try UpdaterService(environment: ProcessInfo.processInfo.environment, logger: logger)
        do {
            let publication = try await service.publish(databaseDirectory: database)
            print("published \(publication.manifest.version) (\(publication.manifest.signatureCount) signatures)")
            try await service.shutdown()
        } catch {
            try? await service.shutdown()
            throw error
        }
    }
}

/// `scanner-bench measure`: the scanner configured from the environment (as in production),
/// one object at a time.
struct Measure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan every key of a list through the scanner's workflow and print the figures as JSON.")

    @Option(help: ArgumentHelp("The bucket holding the objects.", valueName: "BUCKET"))
    var bucket: String

    @Option(help: ArgumentHelp("A file with one object key per line.", valueName: "FILE"))
    var keys: String

    @Option(help: "How many of the first keys warm up the scanner and are left out of the figures.")
    var warmup: Int = 5

    @Option(help: "Objects in flight at once (each through the whole workflow).")
    var concurrency: Int = 1

    @Flag(help: "After the figures, time a second load of the same local database (libclamav's load and compile alone).")
    var timeLoad = false

    @Option(help: ArgumentHelp("A large object scanned after the others, with peak memory before and after.", valueName: "KEY"))
    var largeKey: String?

    @Option(
        help: ArgumentHelp(
            "Local copies of the objects: each is also scanned by the engine alone, without S3, to show the scan's share.", valueName: "DIR"))
    var localCopies: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // One at a time: latency is per object, and the other contenders scan one at a time too
        // (each unit below holds one object).
        try await withScannerService(environment) { service in try await measure(service) }
    }

    func measure(_ service: ScannerService) async throws {
        let clock = ContinuousClock()
        let keyList = try String(contentsOfFile: keys, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard keyList.count > warmup else { throw ValidationError("\(keys) lists \(keyList.count) keys, not more than --warmup \(warmup)") }
        let idle = MemoryStatus.read()

        // Cold start: manifest, database download from S3, load and compile.
        let loadStart = clock.now
        guard let definitions = await service.definitions.current() else {
            throw ValidationError("the scanner could not load the definitions (see the log)")
        }
        let loadSeconds = (clock.now - loadStart).seconds
        let afterLoad = MemoryStatus.read()

        var verdicts: [String: Int] = [:]
        var latencies: [Double] = []
        let processor = service.processor
        let bucket = self.bucket
        func scan(_ key: String) async throws -> (Double, ObjectReport) {
            let start = ContinuousClock.now
            let report = await processor.process(WorkUnit(messageID: nil, items: [.object(ObjectRef(bucket: bucket, key: key))]))
            guard let object = report.objects.first else { throw ValidationError("no outcome for \(key)") }
            if object.skipped || object.verdict == .error {
                throw ValidationError("\(key): \(object.skipped ? "skipped" : "ERROR"): \(object.reasons.joined(separator: "; "))")
            }
            return ((ContinuousClock.now - start).seconds, object)
        }
        for key in keyList.prefix(warmup) { _ = try await scan(key) }
        let measuringSince = clock.now
        // `concurrency` objects in flight, each taken as soon as one is done.
        try await withThrowingTaskGroup(of: (Double, ObjectReport).self) { group in
            var pending = keyList.dropFirst(warmup).makeIterator()
            for _ in 0..<concurrency {
                if let key = pending.next() { group.addTask { try await scan(key) } }
            }
            while let (seconds, object) = try await group.next() {
                latencies.append(seconds)
                verdicts[object.verdict?.rawValue ?? "-", default: 0] += 1
                if let key = pending.next() { group.addTask { try await scan(key) } }
            }
        }
        let measuredSeconds = (clock.now - measuringSince).seconds
        let afterObjects = MemoryStatus.read()

        var large: [String: JSONNumberOrString] = [:]
        if let largeKey {
            let before = MemoryStatus.read()
            let start = clock.now
            let report = await service.processor.process(WorkUnit(messageID: nil, items: [.object(ObjectRef(bucket: bucket, key: largeKey))]))
            let seconds = (clock.now - start).seconds
            let after = MemoryStatus.read()
            let object = report.objects.first
            large = [
                "key": .string(largeKey), "verdict": .string(object?.verdict?.rawValue ?? "-"),
                "reasons": .string(object?.reasons.joined(separator: "; ") ?? ""),
                "seconds": .number(seconds),
                "vmHWMBeforeKiB": .number(Double(before.vmHWM)), "vmHWMAfterKiB": .number(Double(after.vmHWM)),
                "rssAnonAfterKiB": .number(Double(after.rssAnon)), "rssFileAfterKiB": .number(Double(after.rssFile)),
            ]
        }

        // Last, so that it changes no memory figure: a second engine on the same database, with
        // libclamav's clean cache off (the first engine has seen these bytes), scans local copies
        // of the objects: the engine's share of the per-object time, without S3.
        var scanOnly: [Double] = []
        if let localCopies {
            let engine = try await ClamAVEngine.load(
                databaseDirectory: definitions.engine.database.directory,
                options: EngineOptions(limits: service.configuration.limits, cacheEnabled: false)
            )
            let names = try FileManager.default.contentsOfDirectory(atPath: localCopies).sorted()
            for (index, name) in names.enumerated() {
                let start = clock.now
                _ = try await engine.scan(fileAtPath: (localCopies as NSString).appendingPathComponent(name))
                if index >= warmup { scanOnly.append((clock.now - start).seconds) }
            }
        }

        var loadOnlySeconds: Double?
        if timeLoad {
            let start = clock.now
            _ = try await ClamAVEngine.load(
                databaseDirectory: definitions.engine.database.directory, options: EngineOptions(limits: service.configuration.limits))
            loadOnlySeconds = (clock.now - start).seconds
        }

        let sorted = latencies.sorted()
        let result: [String: JSONNumberOrString] = [
            "contender": .string("ours"),
            "concurrency": .number(Double(concurrency)),
            "definitions": .string(definitions.manifest.version),
            "signatures": .number(Double(definitions.engine.database.signatureCount)),
            "objects": .number(Double(latencies.count)),
            "p50": .number(percentile(sorted, 0.50)), "p99": .number(percentile(sorted, 0.99)),
            "mean": .number(latencies.reduce(0, +) / Double(latencies.count)),
            "objectsPerSecond": .number(Double(latencies.count) / measuredSeconds),
            "loadSeconds": .number(loadSeconds),
            "vmHWMIdleKiB": .number(Double(idle.vmHWM)),
            "vmHWMAfterLoadKiB": .number(Double(afterLoad.vmHWM)),
            "vmHWMKiB": .number(Double(afterObjects.vmHWM)),
            "verdicts": .string(verdicts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
        ]
        var output = result
        if let loadOnlySeconds { output["loadOnlySeconds"] = .number(loadOnlySeconds) }
        if !scanOnly.isEmpty {
            let sortedScans = scanOnly.sorted()
            output["scanOnly"] = .object([
                "objects": .number(Double(scanOnly.count)),
                "p50": .number(percentile(sortedScans, 0.50)), "p99": .number(percentile(sortedScans, 0.99)),
            ])
        }
        if !large.isEmpty {
            output["large"] = .object(large)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(output), as: UTF8.self))
    }
}

/// The nearest-rank percentile of sorted values.
func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// Peak and current memory of this process, from /proc/self/status (KiB).
struct MemoryStatus {
    var vmHWM = 0
    var rss = 0
    var rssAnon = 0
    var rssFile = 0

    static func read() -> MemoryStatus {
        var status = MemoryStatus()
        // procfs files report a size of 0: read to the end rather than by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return status }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        try? handle.close()
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let value = Int(fields[1]) else { continue }
            switch fields[0] {
            case "VmHWM:": status.vmHWM = value
            case "VmRSS:": status.rss = value
            case "RssAnon:": status.rssAnon = value
            case "RssFile:": status.rssFile = value
            default: break
            }
        }
        return status
    }
}

/// A JSON value for the one-line result.
indirect enum JSONNumberOrString: Encodable {
    case number(Double)
    case string(String)
    case object([String: JSONNumberOrString])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// `scanner-bench engine --database DIR --objects DIR`: what the engine's safeguards cost,
/// measured side by side on the same local files, interleaved so that noise hits all alike:
/// the production engine (containers accounted for, clean cache off) against libclamav alone
/// (no second unpacker), and against a second identical scan with libclamav's clean cache on
/// (what the cache, switched off because it is keyed by MD5, would save on repeated content).
struct EngineCosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine", abstract: "Price the container accounting and the disabled clean cache, per kind of file (JSON)."
    )

    @Option(help: ArgumentHelp("The database folder.", valueName: "DIR"))
    var database: String

    @Option(help: ArgumentHelp("The files to scan; their extension is their kind.", valueName: "DIR"))
    var objects: String

    @Option(help: "Times every file is scanned by each engine.")
    var rounds: Int = 3

    func run() async throws {
        // The scanner's own defaults (MAX_OBJECT_SIZE and what follows from it).
        let limits = ScanLimits(
            maxFileSize: ScannerConfiguration.defaultMaxObjectSize, maxScanSize: ScannerConfiguration.defaultMaxObjectSize,
            maxFiles: ScanLimits.clamAVDefaults.maxFiles, maxRecursion: ScanLimits.clamAVDefaults.maxRecursion,
            maxScanTimeMilliseconds: 120_000
        )
        let production = try await ClamAVEngine.load(databaseDirectory: database, options: EngineOptions(limits: limits))
        let alone = try await ClamAVEngine.load(
            databaseDirectory: database, options: EngineOptions(limits: limits, accountsForContainers: false)
        )
        let cached = try await ClamAVEngine.load(databaseDirectory: database, options: EngineOptions(limits: limits, cacheEnabled: true))
        let names = try FileManager.default.contentsOfDirectory(atPath: objects).sorted()
        let clock = ContinuousClock()
        func time(_ engine: ClamAVEngine, _ path: String) async throws -> (Double, ScanVerdict) {
            let start = clock.now
            let verdict = try await engine.scan(fileAtPath: path).verdict
            return ((clock.now - start).seconds, verdict)
        }

        var samples: [String: [String: [Double]]] = [:]
        var disagreements: [String] = []
        for _ in 0..<rounds {
            for name in names {
                let path = (objects as NSString).appendingPathComponent(name)
                let kind = (name as NSString).pathExtension.isEmpty ? "other" : (name as NSString).pathExtension
                let (ours, verdict) = try await time(production, path)
                let (plain, plainVerdict) = try await time(alone, path)
                _ = try await cached.scan(fileAtPath: path)
                let (repeated, _) = try await time(cached, path)
                if verdict != plainVerdict { disagreements.append("\(name): \(verdict.rawValue) with accounting, \(plainVerdict.rawValue) without") }
                for (variant, seconds) in [("accounted", ours), ("libclamavAlone", plain), ("cachedRepeat", repeated)] {
                    samples[kind, default: [:]][variant, default: []].append(seconds)
                }
            }
        }
        var kinds: [String: [String: JSONNumberOrString]] = [:]
        for (kind, variants) in samples {
            let accounted = median(variants["accounted"] ?? [])
            let plain = median(variants["libclamavAlone"] ?? [])
            let repeated = median(variants["cachedRepeat"] ?? [])
            kinds[kind] = [
                "files": .number(Double((variants["accounted"]?.count ?? 0) / rounds)),
                "accountedP50Ms": .number(accounted * 1000), "libclamavAloneP50Ms": .number(plain * 1000),
                "accountingRatio": .number(plain > 0 ? accounted / plain : 0),
                "cachedRepeatP50Ms": .number(repeated * 1000),
            ]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        struct Report: Encodable {
            let rounds: Int
            let kinds: [String: [String: JSONNumberOrString]]
            let disagreements: [String]
        }
        print(String(decoding: try encoder.encode(Report(rounds: rounds, kinds: kinds, disagreements: disagreements)), as: UTF8.self))
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
