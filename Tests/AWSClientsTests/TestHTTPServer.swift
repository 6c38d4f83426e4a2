import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An in-process HTTP/1.1 server on 127.0.0.1 with port 0, whose answers a test scripts: normal
/// responses, error statuses, bodies cut short, connections reset in the middle of a body.
final class TestHTTPServer: Sendable {
    /// A request as the server saw it.
    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// What to do with one request.
    enum Action: Sendable {
        /// A full response.
        case respond(status: HTTPResponseStatus, headers: [(String, String)], body: ByteBuffer)
        /// Announce `Content-Length: announced`, send `body` (shorter), then close the connection.
        case truncate(status: HTTPResponseStatus, headers: [(String, String)], announced: Int, body: ByteBuffer)
        /// Announce the full body, send `body` (shorter), then reset the connection (RST).
        case reset(status: HTTPResponseStatus, headers: [(String, String)], announced: Int, body: ByteBuffer)
    }

    typealias Handler = @Sendable (Request, Int) -> Action

    private let channel: any Channel
    private let requests = Mutex<[Request]>([])
    let port: Int

    /// Starts a server; `handler` gets each request and its index (0-based, across connections).
    init(handler: @escaping Handler) async throws {
        let box = Box()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(ConnectionHandler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        self.port = channel.localAddress!.port!
        box.server.withLock { $0 = (self, handler) }
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Every request received so far.
    var received: [Request] { requests.withLock { $0 } }

    func record(_ request: Request) -> Int {
        requests.withLock { list in
            list.append(request)
            return list.count - 1
        }
    }

    func shutdown() async throws {
        try await channel.close()
    }

    final class Box: Sendable {
        let server = Mutex<(TestHTTPServer, Handler)?>(nil)
    }

    final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
        // Used only on its channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let box: Box
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(box: Box) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var chunk):
                body.writeBuffer(&chunk)
            case .end:
                guard let head, let (server, handler) = box.server.withLock({ $0 }) else { return }
                let request = Request(method: head.method, uri: head.uri, headers: head.headers, body: body)
                let index = server.record(request)
                respond(handler(request, index), head: head, context: context)
            }
        }

        func respond(_ action: Action, head request: HTTPRequestHead, context: ChannelHandlerContext) {
            let isHead = request.method == .HEAD
            switch action {
            case .respond(let status, let headers, let body):
                var responseHead = HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers))
                if !responseHead.headers.contains(name: "Content-Length") {
                    responseHead.headers.add(name: "Content-Length", value: String(body.readableBytes))
                }
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                if !isHead && body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .truncate(let status, let headers, let announced, let body), .reset(let status, let headers, let announced, let body):
                var responseHead = HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers))
                responseHead.headers.replaceOrAdd(name: "Content-Length", value: String(announced))
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                let channel = context.channel
                let reset: Bool
                if case .reset = action { reset = true } else { reset = false }
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(body)))).whenComplete { _ in
                    if reset {
                        // SO_LINGER 0: close sends RST instead of FIN.
                        if let provider = channel as? any SocketOptionProvider {
                            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
                        } else {
                            channel.close(promise: nil)
                        }
                    } else {
                        channel.close(promise: nil)
                    }
                }
            }
        }
    }
}
