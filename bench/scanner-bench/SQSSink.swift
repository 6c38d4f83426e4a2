import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An SQS endpoint that accepts `SendMessageBatch` (AWS JSON 1.0), counts the messages and
/// answers after a fixed delay: the queue side of the enqueue benchmark, because moto's SQS
/// slows down with every message already queued (each send costs time proportional to the
/// queue's length) and so measures moto rather than the enqueuer. The delay models the
/// round trip of SQS in a region.
final class SQSSink: Sendable {
    let port: Int
    let delay: TimeAmount
    private let channel: any Channel
    private let count = NIOLockedValueBox(0)

    /// `http://127.0.0.1:PORT`.
    var endpoint: String { "http://127.0.0.1:\(port)" }
    /// Messages received so far.
    var messages: Int { count.withLockedValue { $0 } }

    private init(port: Int, delay: TimeAmount, channel: any Channel) {
        self.port = port
        self.delay = delay
        self.channel = channel
    }

    static func start(delay: TimeAmount) async throws -> SQSSink {
        let box = NIOLockedValueBox<SQSSink?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(Handler(sink: box)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let sink = SQSSink(port: channel.localAddress!.port!, delay: delay, channel: channel)
        box.withLockedValue { $0 = sink }
        return sink
    }

    func shutdown() async throws { try await channel.close() }

    /// The answer to one request body: every entry of a batch succeeds.
    func answer(target: String?, body: Data) -> (HTTPResponseStatus, Data) {
        guard target == "AmazonSQS.SendMessageBatch",
            let request = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let entries = request["Entries"] as? [[String: Any]]
        else {
            return (.badRequest, Data(#"{"__type":"InvalidAction","message":"the sink takes SendMessageBatch only"}"#.utf8))
        }
        count.withLockedValue { $0 += entries.count }
        let successful = entries.map { ["Id": $0["Id"] as? String ?? "", "MessageId": UUID().uuidString, "MD5OfMessageBody": ""] }
        return (.ok, (try? JSONSerialization.data(withJSONObject: ["Successful": successful, "Failed": [Any]()])) ?? Data())
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked Sendable: NIO calls a handler only on its channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let sink: NIOLockedValueBox<SQSSink?>
        private var head: HTTPRequestHead?
        private var body = Data()

        init(sink: NIOLockedValueBox<SQSSink?>) { self.sink = sink }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let requestHead):
                head = requestHead
                body = Data()
            case .body(var buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                guard let head, let sink = sink.withLockedValue({ $0 }) else { return }
                let (status, answer) = sink.answer(target: head.headers.first(name: "X-Amz-Target"), body: body)
                self.head = nil
                let version = head.version
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: sink.delay) {
                    let context = bound.value
                    var headers = HTTPHeaders([("Content-Type", "application/x-amz-json-1.0")])
                    headers.add(name: "Content-Length", value: String(answer.count))
                    context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
                    context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer)))), promise: nil)
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                }
            }
        }
    }
}
