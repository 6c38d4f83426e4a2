import AWSClients
import Foundation
import Logging
import ServiceLifecycle

/// A long-lived worker that polls an SQS queue of S3 notifications (ECS, Fargate, a laptop),
/// as a service (swift-service-lifecycle): on graceful shutdown (SIGTERM through the
/// `ServiceGroup`) it stops polling and returns once the messages in flight are done.
///
/// A message is deleted only when every record in it ended in a final verdict or a skip; a
/// message with a failure stays on the queue and comes back after its visibility timeout, and
/// reaches a dead-letter queue after a bounded number of receives: the queue's own (its
/// redrive policy's `maxReceiveCount`) or, for a queue without one, the worker's
/// ``DeadLettering``. While a message is being scanned its visibility is extended, so a long
/// scan is not handed to another worker.
public struct SQSWorker: Service {
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
    public init(
        processor: InvocationProcessor, sqs: SQSClient, queueURL: String, concurrency: Int, visibilityTimeout: Int = 60,
        deadLettering: DeadLettering? = nil, logger: Logger
    ) {
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

    /// Polls until graceful shutdown or cancellation, then waits for the messages in flight
    /// (graceful shutdown cancels only the open long poll, never a scan).
    public func run() async throws {
        logger.notice("worker started", metadata: ["queueURL": "\(queueURL)", "concurrency": "\(concurrency)"])
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var failures = 0
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                while inFlight >= concurrency, await group.next() != nil {
                    inFlight -= 1
                }
                let messages: [SQSMessage]
                let room = min(10, concurrency - inFlight)
                do {
                    messages = try await cancelWhenGracefulShutdown { [sqs, queueURL, visibilityTimeout] in
                        try await sqs.receiveMessages(
                            queueURL: queueURL, maxMessages: room, waitTimeSeconds: 20, visibilityTimeout: visibilityTimeout)
                    }
                    failures = 0
                } catch {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
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

    /// Scans one message's records, extending its visibility meanwhile; deletes it when done.
    func handle(_ message: SQSMessage) async {
        var logger = logger
        logger[metadataKey: "messageID"] = "\(message.messageID)"
        let heartbeat = Task { [sqs, queueURL, visibilityTimeout, logger] in
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(visibilityTimeout / 3))
                do {
                    try await sqs.changeMessageVisibility(
                        queueURL: queueURL, receiptHandle: message.receiptHandle, visibilityTimeout: visibilityTimeout)
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
            logger.error(
                "message failed on every receive: moved to the dead-letter queue",
                metadata: [
                    "receives": "\(receives)", "deadLetterQueueURL": "\(deadLettering.queueURL)",
                ])
        } catch {
            logger.error("cannot move a failing message to the dead-letter queue; it stays on the queue", metadata: ["error": "\(error)"])
        }
    }
}
