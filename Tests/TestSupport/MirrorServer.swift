import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A ClamAV database mirror for the updater's tests, on 127.0.0.1 at a free port: it serves
/// the files of one folder as a `DatabaseCustomURL` server would, and can be told to answer
/// as a troubled mirror does.
///
/// - `GET`/`HEAD /NAME`: the file, with `Last-Modified` from its modification time;
///   `If-Modified-Since` at or after that time answers 304.
/// - `GET /control`: `{"mode", "retry_after", "requests", "paths"}` (every other request since
///   start or the last reset, in order).
/// - `POST /control` with `{"mode": "normal" | "429" | "403" | "404" | "500" | "corrupt",
///   "retry_after": SECONDS, "reset": true}` (every field optional): 429 carries
///   `Retry-After`; `corrupt` serves every file with its signature lines mangled into text
///   libclamav rejects.
///
/// In process, ``setMode(_:retryAfter:reset:)`` and ``status`` do the same without HTTP.
public final class MirrorServer: Sendable {
    /// What the mirror has been asked so far.
    public struct Status: Codable, Sendable, Equatable {
        public var mode: String
        public var retryAfter: Int
        public var requests: Int
        public var paths: [String]

        enum CodingKeys: String, CodingKey {
            case mode, requests, paths
            case retryAfter = "retry_after"
        }
    }

    static let modes: Set<String> = ["normal", "429", "403", "404", "500", "corrupt"]

    /// The folder whose files are served.
    public let root: String
    /// The port it listens on.
    public let port: Int
    private let channel: any Channel
    private let state = Mutex(Status(mode: "normal", retryAfter: 3600, requests: 0, paths: []))

    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(root: String, port: Int, channel: any Channel) {
        self.root = root
        self.port = port
        self.channel = channel
    }

    /// Starts a mirror serving `root` (created when missing).
    public static func start(root: String, port: Int = 0) async throws -> MirrorServer {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let box = NIOLockedValueBox<MirrorServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(server: box))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        let server = MirrorServer(root: root, port: channel.localAddress!.port!, channel: channel)
        box.withLockedValue { $0 = server }
        return server
    }

    /// Stops listening.
    public func shutdown() async throws {
        try await channel.close()
    }

    /// What the mirror has been asked so far.
    public var status: Status { state.withLock { $0 } }

    /// Sets how the mirror answers; `reset` zeroes the request list.
    @discardableResult
    public func setMode(_ mode: String, retryAfter: Int? = nil, reset: Bool = true) -> Status {
        precondition(Self.modes.contains(mode), "unknown mirror mode \(mode)")
        return state.withLock { status in
            status.mode = mode
            if let retryAfter { status.retryAfter = retryAfter }
            if reset {
                status.paths = []
                status.requests = 0
            }
            return status
        }
    }

    /// Writes a file to serve, dated `modified` (its `Last-Modified`; dating it ahead avoids
    /// same-second ties with `If-Modified-Since`).
    public func publish(_ name: String, contents: Data, modified: Date) throws {
        let path = (root as NSString).appendingPathComponent(name)
        try contents.write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path)
    }

    /// One response.
    struct Answer {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body = Data()
    }

    /// Answers one request.
    func answer(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: Data) -> Answer {
        let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        if path.trimmingCharacters(in: CharacterSet(charactersIn: "/")) == "control" {
            return control(method: method, body: body)
        }
        let (mode, retryAfter) = state.withLock { status -> (String, Int) in
            status.paths.append(uri)
            status.requests = status.paths.count
            return (status.mode, status.retryAfter)
        }
        switch mode {
        case "429":
            return Answer(
                status: .tooManyRequests, headers: [("Retry-After", String(retryAfter)), ("Content-Type", "text/plain")],
                body: Data("Too Many Requests\n".utf8))
        case "403", "404", "500":
            return Answer(
                status: HTTPResponseStatus(statusCode: Int(mode)!), headers: [("Content-Type", "text/plain")],
                body: Data("test mirror answers \(mode)\n".utf8))
        default:
            break
        }
        let name = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let file = (root as NSString).appendingPathComponent(name)
        guard !name.isEmpty, !name.contains("/"), name != "..",
            let attributes = try? FileManager.default.attributesOfItem(atPath: file), attributes[.type] as? FileAttributeType == .typeRegular,
            let modified = attributes[.modificationDate] as? Date, var contents = FileManager.default.contents(atPath: file)
        else {
            return Answer(status: .notFound, headers: [("Content-Type", "text/plain")], body: Data("not found\n".utf8))
        }
        let seconds = modified.timeIntervalSince1970.rounded(.down)
        let lastModified = Self.httpDate(Date(timeIntervalSince1970: seconds))
        if let since = headers.first(name: "If-Modified-Since").flatMap(Self.parseHTTPDate), seconds <= since.timeIntervalSince1970 {
            return Answer(status: .notModified, headers: [("Last-Modified", lastModified)])
        }
        if mode == "corrupt" {
            // Every line loses its field separators: libclamav rejects such lines.
            let lines = String(decoding: contents, as: UTF8.self).split(separator: "\n")
            contents = Data(lines.map { "corrupt signature line \($0.replacingOccurrences(of: ":", with: "_"))\n" }.joined().utf8)
            if contents.isEmpty { contents = Data("corrupt\n".utf8) }
        }
        return Answer(status: .ok, headers: [("Content-Type", "application/octet-stream"), ("Last-Modified", lastModified)], body: contents)
    }

    private func control(method: HTTPMethod, body: Data) -> Answer {
        if method == .POST {
            struct Request: Decodable {
                var mode: String?
                var retryAfter: Int?
                var reset: Bool?
                enum CodingKeys: String, CodingKey {
                    case mode, reset
                    case retryAfter = "retry_after"
                }
            }
            guard let request = try? JSONDecoder().decode(Request.self, from: body.isEmpty ? Data("{}".utf8) : body),
                request.mode.map(Self.modes.contains) ?? true, (request.retryAfter ?? 0) >= 0
            else {
                return Answer(
                    status: .badRequest, headers: [("Content-Type", "application/json")],
                    body: Data(#"{"error":"mode must be one of 403, 404, 429, 500, corrupt, normal; retry_after a non-negative integer"}"#.utf8))
            }
            state.withLock { status in
                if let mode = request.mode { status.mode = mode }
                if let retryAfter = request.retryAfter { status.retryAfter = retryAfter }
                if request.reset == true {
                    status.paths = []
                    status.requests = 0
                }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Answer(status: .ok, headers: [("Content-Type", "application/json")], body: (try? encoder.encode(status)) ?? Data())
    }

    private static let httpFormat = Date.VerbatimFormatStyle(
        format: """
            \(weekday: .abbreviated), \(day: .twoDigits) \(month: .abbreviated) \(year: .defaultDigits) \
            \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits) GMT
            """,
        locale: Locale(identifier: "en_US_POSIX"), timeZone: TimeZone(identifier: "GMT")!, calendar: Calendar(identifier: .gregorian)
    )

    static func httpDate(_ date: Date) -> String { httpFormat.format(date) }
    static func parseHTTPDate(_ text: String) -> Date? { try? Date(text, strategy: httpFormat.parseStrategy) }

    /// Collects one request (head and body) and writes the answer.
    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked Sendable: NIO calls a handler only on its channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let server: NIOLockedValueBox<MirrorServer?>
        private var head: HTTPRequestHead?
        private var body = Data()

        init(server: NIOLockedValueBox<MirrorServer?>) {
            self.server = server
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let requestHead):
                head = requestHead
                body = Data()
            case .body(var buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                guard let head, let server = server.withLockedValue({ $0 }) else { return }
                let answer = server.answer(method: head.method, uri: head.uri, headers: head.headers, body: body)
                var headers = HTTPHeaders(answer.headers)
                headers.replaceOrAdd(name: "Content-Length", value: String(answer.body.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers))), promise: nil)
                if head.method != .HEAD, !answer.body.isEmpty {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer.body)))), promise: nil)
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                self.head = nil
            }
        }
    }
}
