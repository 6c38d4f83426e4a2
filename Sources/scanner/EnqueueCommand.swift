import AWSClients
import ArgumentParser
import Definitions
import Foundation
import ScannerCore

/// `scanner enqueue --bucket B`: queue existing objects for scanning (backfill).
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Queue a bucket's existing objects for scanning (backfill): S3-notification-shaped messages on the scan queue.",
        discussion: """
            Lists the bucket's current objects (ListObjectsV2) and sends one message per object with SendMessageBatch, \
            several batches in flight while the next page is listed. With --checkpoint, the listing position is kept \
            in a file after every page and a second run with the same file goes on where the first stopped. \
            Exit status: 0 when the listing reached its end, 1 when it failed (the checkpoint says where).
            """
    )

    @Option(name: .long, help: "The bucket.")
    var bucket: String

    @Option(name: .long, help: "Only keys under this prefix.")
    var prefix: String = ""

    @Option(
        name: .long,
        help: ArgumentHelp(
            "all: every object; unscanned: objects without a verdict the scanner proves its own; stale: the same, with the current definitions.",
            valueName: "all|unscanned|stale"))
    var only: String = "all"

    @Option(name: .long, help: ArgumentHelp("The scan queue (default: SCAN_QUEUE_URL).", valueName: "URL"))
    var queueURL: String?

    @Flag(name: .long, help: "Count what would be queued (objects and bytes); send nothing.")
    var dryRun = false

    @Option(name: .long, help: ArgumentHelp("Keep the listing position in this file, to resume after an interruption.", valueName: "FILE"))
    var checkpoint: String?

    @Option(name: .long, help: "At most this many objects queued per second.")
    var maxRate: Double?

    @Option(name: .long, help: "Batches of 10 messages in flight at once.")
    var concurrency: Int = 32

    @Flag(name: .long, help: "Print the final counts as JSON.")
    var json = false

    func validate() throws {
        guard ["all", "unscanned", "stale"].contains(only) else {
            throw ValidationError("--only must be all, unscanned or stale, got \(only)")
        }
        if let maxRate, maxRate <= 0 { throw ValidationError("--max-rate must be positive, got \(maxRate)") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive, got \(concurrency)") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = try StartUp.logger(environment)
        let service = try StartUp.service { try ScannerService(environment: environment, logger: logger, emitsMetrics: false) }
        var failure: (any Error)?
        do {
            try await enqueue(service)
        } catch {
            failure = error
        }
        try await service.shutdown()
        if let failure {
            FileHandle.standardError.write(Data("scanner: enqueue: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func enqueue(_ service: ScannerService) async throws {
        let selection = Enqueuer.Selection(rawValue: only) ?? .all
        var definitions: DefinitionsManifest?
        if selection != .all {
            // The current version and the proof key: only a verdict whose proof verifies
            // keeps an object out of the backfill.
            let location = service.configuration.definitions
            let bucket = DefinitionsBucket(store: service.store, bucket: location.bucket, prefix: location.prefix, logger: service.logger)
            guard let manifest = try await bucket.publishedManifest() else {
                throw EnqueueError(
                    "--only \(only) needs the published definitions (to prove verdicts), and s3://\(location.bucket)/\(location.prefix)manifest.json is missing"
                )
            }
            definitions = manifest
        }
        let queue = queueURL ?? service.configuration.scanQueueURL
        guard dryRun || queue != nil else {
            throw ValidationError("no queue: give --queue-url or set SCAN_QUEUE_URL (or use --dry-run)")
        }
        var options = Enqueuer.Options(
            bucket: bucket, prefix: prefix, selection: selection, queueURL: queue, dryRun: dryRun, maxRate: maxRate, checkpoint: checkpoint)
        options.filters = service.configuration.filters
        let enqueuer = Enqueuer(
            store: service.store, sender: dryRun ? nil : service.sqs, tagKeys: service.configuration.tagKeys,
            definitions: definitions, logger: service.logger, concurrency: concurrency)
        let started = ContinuousClock.now
        let terminal = isatty(STDERR_FILENO) == 1
        let progress = try await enqueuer.run(options) { progress in
            guard terminal else { return }
            let line = Self.summary(progress, since: started, dryRun: dryRun)
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(progress), as: UTF8.self))
        } else {
            print(Self.summary(progress, since: started, dryRun: dryRun))
        }
    }

    static func summary(_ progress: Enqueuer.Progress, since started: ContinuousClock.Instant, dryRun: Bool) -> String {
        let seconds = max(0.001, Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000)
        let verb = dryRun ? "would queue" : "queued"
        let bytes = ByteCountFormatter.string(fromByteCount: progress.bytes, countStyle: .binary)
        return "listed \(progress.listed), \(verb) \(progress.queued) (\(bytes)), skipped \(progress.skipped), "
            + String(format: "%.0f objects/s listed", Double(progress.listed) / seconds)
    }
}
