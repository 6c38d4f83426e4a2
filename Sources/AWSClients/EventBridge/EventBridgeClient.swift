import AsyncHTTPClient
import Foundation
import Logging

/// One event for PutEvents.
public struct EventBridgeEntry: Sendable, Equatable {
    /// The bus name or ARN; `nil` is the default bus.
    public var eventBusName: String?
    /// The `source`, e.g. `s3-clamav-scanner`.
    public var source: String
    /// The `detail-type`, e.g. `Object Scan Result`.
    public var detailType: String
    /// The detail, a JSON object as text.
    public var detail: String
    /// Resource ARNs the event is about.
    public var resources: [String]
    /// The event time; `nil` lets EventBridge use the time of the call.
    public var time: Date?

    /// Creates an entry.
    public init(eventBusName: String?, source: String, detailType: String, detail: String, resources: [String] = [], time: Date? = nil) {
        self.eventBusName = eventBusName
        self.source = source
        self.detailType = detailType
        self.detail = detail
        self.resources = resources
        self.time = time
    }

    /// The size that counts against PutEvents' 256 KB limit
    /// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
    public var size: Int {
        (time == nil ? 0 : 14) + source.utf8.count + detailType.utf8.count + detail.utf8.count + resources.reduce(0) { $0 + $1.utf8.count }
    }
}

/// Entries that EventBridge refused, reported even though the call itself answered 200.
public struct EventBridgePutEventsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One refused entry.
    public struct Failure: Sendable, Equatable {
        /// Its index in the array given to ``EventBridgeClient/putEvents(_:)``.
        public var index: Int
        /// EventBridge's error code, e.g. `ThrottlingException`, `InternalFailure`.
        public var errorCode: String
        /// EventBridge's message.
        public var errorMessage: String

        /// Creates a failure record.
        public init(index: Int, errorCode: String, errorMessage: String) {
            self.index = index
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    /// The entries that failed, after retries of the retryable ones.
    public var failures: [Failure]
    /// The event IDs of the entries that were accepted, by index (`nil` where one failed).
    public var eventIDs: [String?]

    /// A summary naming the failed entries and their codes.
    public var description: String {
        "PutEvents failed for \(failures.count) of \(eventIDs.count) entries: "
            + failures.map { "#\($0.index) \($0.errorCode): \($0.errorMessage)" }.joined(separator: "; ")
    }
}

/// An EventBridge client for PutEvents.
public struct EventBridgeClient: Sendable {
    let core: AWSServiceClient

    /// PutEvents takes at most 10 entries per call.
    public static let maxEntriesPerCall = 10
    /// PutEvents takes at most 256 KB per call (and per entry).
    public static let maxBytesPerCall = 256 * 1024

    /// Creates a client.
    public init(
        settings: AWSSettings, credentialsProvider: any AWSCredentialsProvider, httpClient: HTTPClient,
        retryPolicy: RetryPolicy = .default, logger: Logger = Logger(label: "aws.eventbridge"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        core = AWSServiceClient(
            httpClient: httpClient, credentialsProvider: credentialsProvider, region: settings.region,
            service: "events", endpoint: settings.eventBridgeEndpoint, retryPolicy: retryPolicy,
            logger: logger, now: now, timeout: .seconds(30))
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct WireEntry: Encodable {
        var EventBusName: String?
        var Source: String
        var DetailType: String
        var Detail: String
        var Resources: [String]?
        var Time: Double?

        enum CodingKeys: String, CodingKey {
            case EventBusName, Source
            case DetailType = "DetailType"
            case Detail, Resources, Time
        }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct Input: Encodable { var Entries: [WireEntry] }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct Output: Decodable {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The AWS JSON protocol's wire names.
        struct ResultEntry: Decodable {
            var EventId: String?
            var ErrorCode: String?
            var ErrorMessage: String?
        }
        var FailedEntryCount: Int?
        var Entries: [ResultEntry]?
    }

    /// Codes worth sending the entry again.
    static let retryableEntryCodes: Set<String> = ["ThrottlingException", "InternalFailure", "InternalException", "ServiceUnavailable"]

    /// PutEvents for any number of entries, in batches within the service limits. Entries that
    /// fail with a throttling or internal code are sent again within the retry policy.
    ///
    /// - Returns: The event IDs, in the order of `entries`.
    /// - Throws: ``EventBridgePutEventsError`` naming every entry that still failed (a partial
    ///   failure is never a silent success); ``AWSClientError`` for an entry over 256 KB.
    @discardableResult
    public func putEvents(_ entries: [EventBridgeEntry]) async throws -> [String] {
        for (index, entry) in entries.enumerated() where entry.size > Self.maxBytesPerCall {
            throw AWSClientError.invalidArgument("event #\(index) is \(entry.size) bytes, over EventBridge's 256 KB limit")
        }
        var eventIDs = [String?](repeating: nil, count: entries.count)
        var failures: [Int: EventBridgePutEventsError.Failure] = [:]
        var pending = Array(entries.indices)
        var attempt = 1
        while !pending.isEmpty {
            var retry: [Int] = []
            for batch in Self.batches(of: pending, entries: entries) {
                let results = try await putBatch(batch.map { entries[$0] })
                for (index, result) in zip(batch, results) {
                    if let code = result.ErrorCode {
                        failures[index] = .init(index: index, errorCode: code, errorMessage: result.ErrorMessage ?? "")
                        if Self.retryableEntryCodes.contains(code) { retry.append(index) }
                    } else if let id = result.EventId {
                        eventIDs[index] = id
                        failures[index] = nil
                    } else {
                        failures[index] = .init(
                            index: index, errorCode: "MissingEventId", errorMessage: "PutEvents answered neither an EventId nor an ErrorCode")
                    }
                }
            }
            guard !retry.isEmpty, attempt < core.retryPolicy.maxAttempts else { break }
            let delay = core.retryPolicy.delay(beforeRetry: attempt)
            core.logger.debug("retrying failed PutEvents entries", metadata: ["count": "\(retry.count)", "attempt": "\(attempt)"])
            try await Task.sleep(for: delay)
            attempt += 1
            pending = retry
        }
        if !failures.isEmpty {
            throw EventBridgePutEventsError(failures: failures.values.sorted { $0.index < $1.index }, eventIDs: eventIDs)
        }
        return eventIDs.map { $0 ?? "" }
    }

    /// Splits indices into batches of at most 10 entries and 256 KB.
    static func batches(of indices: [Int], entries: [EventBridgeEntry]) -> [[Int]] {
        var batches: [[Int]] = []
        var current: [Int] = []
        var bytes = 0
        for index in indices {
            let size = entries[index].size
            if !current.isEmpty && (current.count == maxEntriesPerCall || bytes + size > maxBytesPerCall) {
                batches.append(current)
                current = []
                bytes = 0
            }
            current.append(index)
            bytes += size
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    private func putBatch(_ batch: [EventBridgeEntry]) async throws -> [Output.ResultEntry] {
        let input = Input(
            Entries: batch.map {
                WireEntry(
                    EventBusName: $0.eventBusName, Source: $0.source, DetailType: $0.detailType, Detail: $0.detail,
                    Resources: $0.resources.isEmpty ? nil : $0.resources, Time: $0.time?.timeIntervalSince1970)
            })
        let output = try await core.callJSON(target: "AWSEvents.PutEvents", jsonVersion: "1.1", input: input, as: Output.self)
        guard let results = output.Entries, results.count == batch.count else {
            throw AWSClientError.invalidResponse("PutEvents answered \(output.Entries?.count ?? 0) results for \(batch.count) entries")
        }
        return results
    }
}
