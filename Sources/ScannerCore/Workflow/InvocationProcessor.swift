import BusEvents
import ClamAV
import Foundation
import Logging

/// The outcome of one unit of work (an SQS message, or one record of a direct event).
public struct UnitReport: Sendable, Encodable {
    /// The SQS message ID, when the unit is a message.
    public let messageID: String?
    /// The objects scanned or skipped.
    public let objects: [ObjectReport]
    /// Records that were ignored (test events, non-creation events) and why.
    public let ignored: [String]
    /// Records that could not be used (or whose rescan listing failed) and why.
    public let rejected: [String]
    /// What rescan records queued.
    public let queued: [String]

    /// Whether the unit must be retried: a malformed record or a scan that ended in `ERROR`.
    public var failed: Bool { !rejected.isEmpty || objects.contains { $0.verdict == .error } }
}

/// One object's outcome, as `scanner invoke` prints it.
public struct ObjectReport: Sendable, Encodable {
    public let bucket: String
    public let key: String
    public let versionID: String?
    public let verdict: ScanVerdict?
    public let action: String
    public let signature: String?
    public let reasons: [String]
    public let skipped: Bool

    init(_ outcome: ObjectOutcome) {
        bucket = outcome.object.bucket
        key = outcome.object.key
        versionID = outcome.object.versionID
        verdict = outcome.verdict
        action = outcome.action.rawValue
        signature = outcome.signature
        reasons = outcome.reasons
        skipped = outcome.skipped != nil
    }
}

/// The outcome of a whole event.
public struct InvocationReport: Sendable, Encodable {
    /// Every unit, in event order.
    public let units: [UnitReport]
    /// Whether the event came from SQS.
    public let isSQSBatch: Bool

    /// Whether any unit failed.
    public var failed: Bool { units.contains(where: \.failed) }

    /// The SQS partial batch response: only the failed messages return to the queue
    /// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
    public var batchItemFailures: [String] { units.filter(\.failed).compactMap(\.messageID) }
}

/// Runs every record of an event through the workflow, a few objects at a time, so that one
/// bad record never hides the others.
public struct InvocationProcessor: Sendable {
    let workflow: ObjectScanWorkflow
    let rescanner: Rescanner?
    let events: EventBusPublisher
    let logger: Logger
    let concurrency: Int

    /// Creates a processor scanning up to `concurrency` objects at once; without a
    /// `rescanner`, rescan records are rejected.
    public init(workflow: ObjectScanWorkflow, rescanner: Rescanner? = nil, events: EventBusPublisher, logger: Logger, concurrency: Int = 4) {
        self.workflow = workflow
        self.rescanner = rescanner
        self.events = events
        self.logger = logger
        self.concurrency = max(1, concurrency)
    }

    /// Processes a decoded event; `logger` carries the invocation's metadata when there is one,
    /// `deadline` its end.
    public func process(_ event: InvocationEvent, logger requestLogger: Logger? = nil, deadline: ContinuousClock.Instant? = nil) async
        -> InvocationReport
    {
        let units = await withTaskGroup(of: (Int, UnitReport).self) { group in
            var reports: [Int: UnitReport] = [:]
            var next = 0
            for _ in 0..<min(concurrency, event.units.count) {
                let index = next
                group.addTask { (index, await process(event.units[index], logger: requestLogger, deadline: deadline)) }
                next += 1
            }
            for await (index, report) in group {
                reports[index] = report
                if next < event.units.count {
                    let index = next
                    group.addTask { (index, await process(event.units[index], logger: requestLogger, deadline: deadline)) }
                    next += 1
                }
            }
            return event.units.indices.compactMap { reports[$0] }
        }
        return InvocationReport(units: units, isSQSBatch: event.isSQSBatch)
    }

    /// Processes one unit of work (also the worker's path for one SQS message).
    public func process(_ unit: WorkUnit, logger requestLogger: Logger? = nil, deadline: ContinuousClock.Instant? = nil) async -> UnitReport {
        let logger = requestLogger ?? self.logger
        var objects: [ObjectReport] = []
        var ignored: [String] = []
        var rejected: [String] = []
        var queued: [String] = []
        for item in unit.items {
            switch item {
            case .object(let object):
                objects.append(ObjectReport(await workflow.process(object, logger: logger, deadline: deadline)))
            case .definitionsUpdated(let update):
                do {
                    if let summary = try await rescanner?.handle(update, logger: logger) {
                        queued.append(summary)
                    } else {
                        ignored.append("Definitions Updated (\(update.version)): the rescan is off (RESCAN_BUCKETS is not set)")
                    }
                } catch {
                    let reason = "cannot request the rescan for definitions \(update.version): \(error)"
                    logger.error("rescan failed", metadata: ["reason": "\(reason)"])
                    rejected.append(reason)
                }
            case .rescan(let request):
                guard let rescanner else {
                    await reject(
                        "a \(RescanRequest.detailType) message reached a scanner without SCAN_QUEUE_URL", messageID: unit.messageID, logger: logger)
                    rejected.append("rescan requested but SCAN_QUEUE_URL is not set")
                    continue
                }
                do {
                    queued.append(try await rescanner.handle(request, deadline: deadline, logger: logger))
                } catch {
                    let reason = "the rescan listing of s3://\(request.bucket)/\(request.prefix) failed: \(error)"
                    logger.error("rescan failed", metadata: ["reason": "\(reason)"])
                    rejected.append(reason)
                }
            case .ignored(let reason):
                logger.info("record ignored", metadata: ["reason": "\(reason)", "messageID": "\(unit.messageID ?? "-")"])
                ignored.append(reason)
            case .malformed(let reason):
                await reject(reason, messageID: unit.messageID, logger: logger)
                rejected.append(reason)
            }
        }
        return UnitReport(messageID: unit.messageID, objects: objects, ignored: ignored, rejected: rejected, queued: queued)
    }

    /// Logs and publishes a record (or a whole event) that cannot be used.
    public func reject(_ reason: String, messageID: String?, logger requestLogger: Logger? = nil) async {
        (requestLogger ?? logger).error("malformed record rejected", metadata: ["reason": "\(reason)", "messageID": "\(messageID ?? "-")"])
        let detail = ScanResultDetail(
            object: nil, verdict: .error, action: .none, signature: nil,
            reasons: ["malformed input: \(reason)"], definitions: nil, durationMs: 0)
        await events.publish(.objectScanFailed, detail)
    }
}
