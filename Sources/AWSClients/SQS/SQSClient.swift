import AsyncHTTPClient
import Crypto
import Foundation
import Logging

/// A message received from SQS.
public struct SQSMessage: Sendable, Equatable {
    /// The message ID.
    public var messageID: String
    /// The receipt handle, needed to delete the message or change its visibility.
    public var receiptHandle: String
    /// The body.
    public var body: String
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    public var attributes: [String: String]
}

/// Entries of a batch call that SQS refused.
public struct SQSBatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One refused entry.
    public struct Failure: Sendable, Equatable {
        /// The receipt handle of the entry.
        public var receiptHandle: String
        /// SQS's error code, e.g. `ReceiptHandleIsInvalid`.
        public var code: String
        /// SQS's message.
        public var message: String
        /// Whether SQS blames the caller.
        public var senderFault: Bool

        /// Creates a failure record.
        public init(receiptHandle: String, code: String, message: String, senderFault: Bool) {
            self.receiptHandle = receiptHandle
            self.code = code
            self.message = message
            self.senderFault = senderFault
        }
    }

    /// The entries that failed.
    public var failures: [Failure]

    /// A summary naming the codes.
    public var description: String {
        "SQS batch failed for \(failures.count) entries: " + failures.map { "\($0.code): \($0.message)" }.joined(separator: "; ")
    }
}

/// An SQS client (JSON protocol) for the worker's polling loop.
public struct SQSClient: Sendable {
    let core: AWSServiceClient

    /// Creates a client.
    public init(
        settings: AWSSettings, credentialsProvider: any AWSCredentialsProvider, httpClient: HTTPClient,
        retryPolicy: RetryPolicy = .default, logger: Logger = Logger(label: "aws.sqs"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        core = AWSServiceClient(
            httpClient: httpClient, credentialsProvider: credentialsProvider, region: settings.region,
            service: "sqs", endpoint: settings.sqsEndpoint, retryPolicy: retryPolicy,
            logger: logger, now: now, timeout: .seconds(30))
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct ReceiveInput: Encodable {
        var QueueUrl: String
        var MaxNumberOfMessages: Int
        var WaitTimeSeconds: Int
        var VisibilityTimeout: Int?
        var MessageSystemAttributeNames: [String]
        var AttributeNames: [String]
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct ReceiveOutput: Decodable {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The AWS JSON protocol's wire names.
        struct Message: Decodable {
            var MessageId: String
            var ReceiptHandle: String
            var Body: String
            var MD5OfBody: String?
            var Attributes: [String: String]?
        }
        var Messages: [Message]?
    }

    /// ReceiveMessage with long polling: waits up to `waitTimeSeconds` (at most 20) for up to
    /// `maxMessages` (at most 10) messages. Bodies are checked against `MD5OfBody`.
    public func receiveMessages(
        queueURL: String, maxMessages: Int = 10, waitTimeSeconds: Int = 20,
        visibilityTimeout: Int? = nil
    ) async throws -> [SQSMessage] {
        guard (1...10).contains(maxMessages) else { throw AWSClientError.invalidArgument("maxMessages must be 1...10, got \(maxMessages)") }
        guard (0...20).contains(waitTimeSeconds) else {
            throw AWSClientError.invalidArgument("waitTimeSeconds must be 0...20, got \(waitTimeSeconds)")
        }
        let input = ReceiveInput(
            QueueUrl: queueURL, MaxNumberOfMessages: maxMessages, WaitTimeSeconds: waitTimeSeconds,
            VisibilityTimeout: visibilityTimeout, MessageSystemAttributeNames: ["All"], AttributeNames: ["All"])
        // The call lasts as long as the poll: give it the wait plus a margin.
        let output = try await core.callJSON(
            target: "AmazonSQS.ReceiveMessage", jsonVersion: "1.0", input: input,
            as: ReceiveOutput.self, timeout: .seconds(Int64(waitTimeSeconds) + 15))
        return try (output.Messages ?? []).map { message in
            if let md5 = message.MD5OfBody {
                let computed = Insecure.MD5.hash(data: Data(message.Body.utf8)).map { String(format: "%02x", $0) }.joined()
                guard computed == md5.lowercased() else {
                    throw AWSClientError.checksumMismatch("SQS message \(message.MessageId): MD5 of the body is \(computed), SQS announced \(md5)")
                }
            }
            return SQSMessage(
                messageID: message.MessageId, receiptHandle: message.ReceiptHandle, body: message.Body,
                attributes: message.Attributes ?? [:])
        }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct DeleteInput: Encodable {
        var QueueUrl: String
        var ReceiptHandle: String
    }

    /// DeleteMessage: acknowledges one message.
    public func deleteMessage(queueURL: String, receiptHandle: String) async throws {
        _ = try await core.callJSON(
            target: "AmazonSQS.DeleteMessage", jsonVersion: "1.0",
            input: DeleteInput(QueueUrl: queueURL, ReceiptHandle: receiptHandle), as: EmptyJSON.self)
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct DeleteBatchInput: Encodable {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The AWS JSON protocol's wire names.
        struct Entry: Encodable {
            var Id: String
            var ReceiptHandle: String
        }
        var QueueUrl: String
        var Entries: [Entry]
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct BatchOutput: Decodable {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The AWS JSON protocol's wire names.
        struct Failed: Decodable {
            var Id: String
            var Code: String
            var Message: String?
            var SenderFault: Bool?
        }
        var Failed: [Failed]?
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct SendBatchInput: Encodable {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The AWS JSON protocol's wire names.
        struct Entry: Encodable {
            var Id: String
            var MessageBody: String
        }
        var QueueUrl: String
        var Entries: [Entry]
    }

    /// SendMessageBatch of up to 10 bodies (the service's limit). Entries SQS fails with a
    /// server fault are sent again within the retry policy's attempts.
    ///
    /// - Throws: ``SQSBatchError`` naming every body that was not sent (by its index in
    ///   `bodies`, as the receipt handle field).
    public func sendMessageBatch(queueURL: String, bodies: [String]) async throws {
        precondition(bodies.count <= 10, "SendMessageBatch takes at most 10 messages")
        var pending = Array(bodies.indices)
        var attempt = 1
        while true {
            let entries = pending.map { SendBatchInput.Entry(Id: "m\($0)", MessageBody: bodies[$0]) }
            let output = try await core.callJSON(
                target: "AmazonSQS.SendMessageBatch", jsonVersion: "1.0", input: SendBatchInput(QueueUrl: queueURL, Entries: entries),
                as: BatchOutput.self)
            let failed = output.Failed ?? []
            guard !failed.isEmpty else { return }
            let retryable = failed.filter { $0.SenderFault != true }
            if retryable.count == failed.count, attempt < core.retryPolicy.maxAttempts {
                pending = retryable.compactMap { Int($0.Id.dropFirst()) }
                try await Task.sleep(for: core.retryPolicy.delay(beforeRetry: attempt))
                attempt += 1
                continue
            }
            throw SQSBatchError(
                failures: failed.map {
                    .init(
                        receiptHandle: "message \($0.Id.dropFirst())", code: $0.Code, message: $0.Message ?? "", senderFault: $0.SenderFault ?? false)
                })
        }
    }

    /// DeleteMessageBatch for any number of receipt handles, 10 per call.
    ///
    /// - Throws: ``SQSBatchError`` naming every handle that was not deleted.
    public func deleteMessageBatch(queueURL: String, receiptHandles: [String]) async throws {
        var failures: [SQSBatchError.Failure] = []
        for start in stride(from: 0, to: receiptHandles.count, by: 10) {
            let chunk = Array(receiptHandles[start..<min(start + 10, receiptHandles.count)])
            let entries = chunk.enumerated().map { DeleteBatchInput.Entry(Id: "m\($0.offset)", ReceiptHandle: $0.element) }
            let output = try await core.callJSON(
                target: "AmazonSQS.DeleteMessageBatch", jsonVersion: "1.0",
                input: DeleteBatchInput(QueueUrl: queueURL, Entries: entries), as: BatchOutput.self)
            for failed in output.Failed ?? [] {
                let index = Int(failed.Id.dropFirst()) ?? 0
                failures.append(
                    .init(
                        receiptHandle: chunk[min(index, chunk.count - 1)], code: failed.Code,
                        message: failed.Message ?? "", senderFault: failed.SenderFault ?? false))
            }
        }
        if !failures.isEmpty { throw SQSBatchError(failures: failures) }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct VisibilityInput: Encodable {
        var QueueUrl: String
        var ReceiptHandle: String
        var VisibilityTimeout: Int
    }

    /// ChangeMessageVisibility: extends (or ends, with 0) the time a message stays hidden.
    public func changeMessageVisibility(queueURL: String, receiptHandle: String, visibilityTimeout: Int) async throws {
        _ = try await core.callJSON(
            target: "AmazonSQS.ChangeMessageVisibility", jsonVersion: "1.0",
            input: VisibilityInput(QueueUrl: queueURL, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeout),
            as: EmptyJSON.self)
    }
}

extension SQSClient {
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct CreateQueueInput: Encodable { var QueueName: String }
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct CreateQueueOutput: Decodable { var QueueUrl: String }
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct SendInput: Encodable {
        var QueueUrl: String
        var MessageBody: String
    }
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct SendOutput: Decodable { var MessageId: String }

    /// CreateQueue (standard queue, default attributes); returns the queue URL.
    public func createQueue(name: String) async throws -> String {
        try await core.callJSON(
            target: "AmazonSQS.CreateQueue", jsonVersion: "1.0", input: CreateQueueInput(QueueName: name),
            as: CreateQueueOutput.self
        ).QueueUrl
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct AttributesInput: Encodable {
        var QueueUrl: String
        var AttributeNames: [String]
    }
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct AttributesOutput: Decodable { var Attributes: [String: String]? }

    /// GetQueueAttributes: the named attributes the queue has (an unset one is absent).
    public func queueAttributes(queueURL: String, names: [String]) async throws -> [String: String] {
        try await core.callJSON(
            target: "AmazonSQS.GetQueueAttributes", jsonVersion: "1.0",
            input: AttributesInput(QueueUrl: queueURL, AttributeNames: names), as: AttributesOutput.self
        ).Attributes ?? [:]
    }

    /// SendMessage; returns the message ID.
    @discardableResult
    public func sendMessage(queueURL: String, body: String) async throws -> String {
        try await core.callJSON(
            target: "AmazonSQS.SendMessage", jsonVersion: "1.0", input: SendInput(QueueUrl: queueURL, MessageBody: body),
            as: SendOutput.self
        ).MessageId
    }
}
