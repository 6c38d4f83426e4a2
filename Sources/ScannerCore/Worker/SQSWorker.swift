import AWSClients
import Foundation
import Logging

/// Ends the worker's polling when the process is asked to stop, without cancelling the scans
/// in flight (they finish, then the worker returns).
public actor ShutdownSignal {
    /// Whether a shutdown was requested.
    public private(set) var isTriggered = false
    private var cancellations: [UUID: @Sendable () -> Void] = [:]

    /// Creates a signal that has not fired.
    public init() {}

    /// Requests the shutdown: the current poll is cancelled and no new one starts.
    public func trigger() {
        isTriggered = true
        cancellations.values.forEach { $0() }
        cancellations = [:]
    }

    fileprivate func register(_ id: UUID, _ cancel: @escaping @Sendable () -> Void) -> Bool {
        guard !isTriggered else { return false }
        cancellations[id] = cancel
        return true
    }

    fileprivate func unregister(_ id: UUID) {
        cancellations[id] = nil
    }
}

/// A long-lived worker that polls an SQS queue of S3 notifications (ECS, Fargate, a laptop).
///
/// A message is deleted only when every record in it ended in a final verdict or a skip; a
/// message with a failure stays on the queue and comes back after its visibility timeout, and
/// reaches a dead-letter queue after a bounded number of receives: the queue's own (its
/// redrive policy's `maxReceiveCount`) or, for a queue without one, the worker's
/// ``DeadLettering``. While a message is being scanned its visibility is extended, so a long
/// scan is not handed to another worker.
public struct SQSWorker: Sendable {
    /// Where the worker itself moves a message that keeps failing, for a queue without a
    /// redrive policy.
    public struct DeadLettering: Sendable {
        /// The dead-letter queue.
        public var queueURL: String
        /// Receives after which a failing message moves there.
        public var maxReceives: Int

        /// Creates the setting.
        public init(queueURL: String, maxReceives: Int) {
            self.queueURL = queueURL
            self.maxReceives = max(1, maxReceives)
        }
    }

    let processor: InvocationProcessor
    let sqs: SQSClient
    let queueURL: String
    let concurrency: Int
    let visibilityTimeout: Int
    let deadLettering: DeadLettering?
    let logger: Logger

    /// Creates a worker scanning up to `concurrency` messages at once.
    public init(processor: InvocationProcessor, sqs: SQSClient, queueURL: String, concurrency: Int, visibilityTimeout: Int = 60,
                deadLettering: DeadLettering? = nil, logger: Logger) {
        self.processor = processor
        self.sqs = sqs
        self.queueURL = queueURL
        self.concurrency = max(1, concurrency)
        self.visibilityTimeout = max(6, visibilityTimeout)
        self.deadLettering = deadLettering
        self.logger = logger
    }

    /// Whether the queue has a redrive policy (then SQS moves failing messages itself).
    public static func hasRedrivePolicy(queueURL: String, sqs: SQSClient) async throws -> Bool {
        try await sqs.queueAttributes(queueURL: queueURL, names: ["RedrivePolicy"])["RedrivePolicy"] != nil
    }

    /// Polls until `shutdown` fires, then waits for the messages in flight.
    public func run(until shutdown: ShutdownSignal) async {
        logger.notice("worker started", metadata: ["queueURL": "\(queueURL)", "concurrency": "\(concurrency)"])
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var failures = 0
            while await !shutdown.isTriggered {
                while inFlight >= concurrency, await group.next() != nil {
                    inFlight -= 1
                }
                let messages: [SQSMessage]
                do {
                    messages = try await poll(maxMessages: min(10, concurrency - inFlight), shutdown: shutdown)
                    failures = 0
                } catch {
                    if await shutdown.isTriggered { break }
                    failures += 1
                    logger.error("cannot receive messages", metadata: ["error": "\(error)"])
                    // Back off, up to 20 s, so that a broken queue does not spin.
                    try? await Task.sleep(for: .seconds(min(20, 1 << min(failures, 5))))
                    continue
                }
                for message in messages {
                    group.addTask { await handle(message) }
                    inFlight += 1
                }
            }
            logger.notice("worker stopping: finishing the messages in flight", metadata: ["inFlight": "\(inFlight)"])
        }
        logger.notice("worker stopped")
    }

    private func poll(maxMessages: Int, shutdown: ShutdownSignal) async throws -> [SQSMessage] {
        let task = Task { [sqs, queueURL, visibilityTimeout] in
            try await sqs.receiveMessages(queueURL: queueURL, maxMessages: maxMessages, waitTimeSeconds: 20, visibilityTimeout: visibilityTimeout)
        }
        let id = UUID()
        guard await shutdown.register(id, { task.cancel() }) else {
            task.cancel()
            return []
        }
        defer { Task { await shutdown.unregister(id) } }
        return try await task.value
    }

    /// Scans one message's records, extending its visibility meanwhile; deletes it when done.
    func handle(_ message: SQSMessage) async {
        var logger = logger
        logger[metadataKey: "messageID"] = "\(message.messageID)"
        let heartbeat = Task { [sqs, queueURL, visibilityTimeout, logger] in
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(visibilityTimeout / 3))
                do {
                    try await sqs.changeMessageVisibility(queueURL: queueURL, receiptHandle: message.receiptHandle, visibilityTimeout: visibilityTimeout)
                } catch {
                    logger.warning("cannot extend the message's visibility", metadata: ["error": "\(error)"])
                }
            }
        }
        let unit = WorkUnit(messageID: message.messageID, items: InvocationEvent.items(inMessageBody: message.body))
        let report = await processor.process(unit)
        heartbeat.cancel()
        guard !report.failed else {
            let receives = message.attributes["ApproximateReceiveCount"].flatMap(Int.init) ?? 1
            if let deadLettering, receives >= deadLettering.maxReceives {
                await deadLetter(message, receives: receives, to: deadLettering, logger: logger)
            } else {
                logger.warning("message left on the queue for a retry", metadata: ["receives": "\(receives)"])
            }
            return
        }
        do {
            try await sqs.deleteMessage(queueURL: queueURL, receiptHandle: message.receiptHandle)
        } catch {
            logger.error("cannot delete a processed message; it will be processed again", metadata: ["error": "\(error)"])
        }
    }

    /// Moves a message that keeps failing to the dead-letter queue: sent there first, deleted
    /// here only once it is there, so it is never lost.
    private func deadLetter(_ message: SQSMessage, receives: Int, to deadLettering: DeadLettering, logger: Logger) async {
        do {
            try await sqs.sendMessage(queueURL: deadLettering.queueURL, body: message.body)
            try await sqs.deleteMessage(queueURL: queueURL, receiptHandle: message.receiptHandle)
            logger.error("message failed on every receive: moved to the dead-letter queue", metadata: [
                "receives": "\(receives)", "deadLetterQueueURL": "\(deadLettering.queueURL)",
            ])
        } catch {
            logger.error("cannot move a failing message to the dead-letter queue; it stays on the queue", metadata: ["error": "\(error)"])
        }
    }
}
