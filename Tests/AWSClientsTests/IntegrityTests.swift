import AWSClients
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// A download is scanned only if its bytes are the stored object's: against a server that
/// substitutes bodies or corrupts one range or part, the client checks everything S3 offers
/// (full-object and per-part checksums, the composite checksum, the MD5 entity tag), retries
/// a transient corruption like any transient fault, and otherwise fails without a file.
@Suite struct IntegrityTests {
    let faults = FaultInjectionTests()

    /// An object as S3 would describe it: its MD5 entity tag (single part), or its parts with
    /// CRC32 part checksums, a composite checksum and a multipart entity tag.
    struct StoredObject: Sendable {
        let data: Data
        let partSize: Int?
        var serverSideEncryption: String?
        var answersGetObjectAttributes = true
        /// An entity tag that is not the content's MD5 (SSE-KMS writes such tags).
        var opaqueETag: String?

        var partRanges: [Range<Int>] {
            guard let partSize else { return [0..<data.count] }
            return stride(from: 0, to: data.count, by: partSize).map { $0..<min($0 + partSize, data.count) }
        }

        var eTag: String {
            if let opaqueETag { return opaqueETag }
            let md5s = partRanges.map { Data(Insecure.MD5.hash(data: data[$0])) }
            guard partSize != nil else { return md5s[0].hex }
            return Data(Insecure.MD5.hash(data: md5s.reduce(Data(), +))).hex + "-\(md5s.count)"
        }

        var partChecksums: [String] { partRanges.map { ChecksumProbe.crc32(data[$0]) } }

        var compositeChecksum: String {
            let raw = partChecksums.map { Data(base64Encoded: $0)! }.reduce(Data(), +)
            return ChecksumProbe.crc32(raw) + "-\(partRanges.count)"
        }
    }

    /// Serves `object`: HEAD (with `partNumber`), GET, ranges, GetObjectAttributes; `corrupt`
    /// says, for a request and its index, whether the body it gets is altered.
    static func server(_ object: StoredObject, corrupt: @escaping @Sendable (TestHTTPServer.Request, Int) -> Bool) async throws -> TestHTTPServer {
        try await TestHTTPServer { request, index in
            var headers: [(String, String)] = [("ETag", "\"\(object.eTag)\""), ("x-amz-version-id", "v1")]
            if let sse = object.serverSideEncryption { headers.append(("x-amz-server-side-encryption", sse)) }
            let query = request.uri.split(separator: "?").dropFirst().first.map(String.init) ?? ""
            if query.contains("attributes") {
                guard object.answersGetObjectAttributes, object.partSize != nil else {
                    return .respond(status: .notImplemented, headers: [], body: ByteBuffer(string: "<Error><Code>NotImplemented</Code></Error>"))
                }
                let parts = zip(object.partRanges.indices, object.partRanges).map { number, range in
                    "<Part><PartNumber>\(number + 1)</PartNumber><Size>\(range.count)</Size><ChecksumCRC32>\(object.partChecksums[number])</ChecksumCRC32></Part>"
                }.joined()
                let xml =
                    "<GetObjectAttributesResponse><ObjectParts><TotalPartsCount>\(object.partRanges.count)</TotalPartsCount><IsTruncated>false</IsTruncated>\(parts)</ObjectParts></GetObjectAttributesResponse>"
                return .respond(status: .ok, headers: headers, body: ByteBuffer(string: xml))
            }
            if request.method == .HEAD {
                if let number = query.split(separator: "&").first(where: { $0.hasPrefix("partNumber=") }).flatMap({ Int($0.dropFirst(11)) }) {
                    headers.append(("Content-Length", String(object.partRanges[number - 1].count)))
                    headers.append(("x-amz-mp-parts-count", String(object.partRanges.count)))
                    return .respond(status: .partialContent, headers: headers, body: ByteBuffer())
                }
                headers.append(("Content-Length", String(object.data.count)))
                if object.partSize != nil {
                    headers += [("x-amz-checksum-crc32", object.compositeChecksum), ("x-amz-checksum-type", "COMPOSITE")]
                }
                return .respond(status: .ok, headers: headers, body: ByteBuffer())
            }
            var body = object.data
            var status = HTTPResponseStatus.ok
            if let range = request.headers.first(name: "Range") {
                let bounds = range.dropFirst("bytes=".count).split(separator: "-").compactMap { Int($0) }
                body = object.data.subdata(in: bounds[0]..<(bounds[1] + 1))
                headers.append(("Content-Range", "bytes \(bounds[0])-\(bounds[1])/\(object.data.count)"))
                status = .partialContent
            }
            if corrupt(request, index) { body[body.count / 2] ^= 0xFF }
            return .respond(status: status, headers: headers, body: ByteBuffer(bytes: body))
        }
    }

    /// Downloads `object` from a server that corrupts what `corrupt` says, through HeadObject
    /// then GET (`direct` false) or the scanner's single GET (`direct` true).
    func download(
        _ object: StoredObject, direct: Bool = false, retries: RetryPolicy = FaultInjectionTests.fastRetries,
        corrupt: @escaping @Sendable (TestHTTPServer.Request, Int) -> Bool
    ) async throws -> (Result<Data, any Error>, [TestHTTPServer.Request]) {
        let server = try await Self.server(object, corrupt: corrupt)
        let result: Result<Data, any Error> = try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try faults.makeS3(httpClient, server, retry: retries)
                let file = "\(directory)/f"
                do {
                    if direct {
                        let got = try await s3.getObject(bucket: "b", key: "k", versionID: nil, ifMatch: nil, maxSize: 1 << 30, to: file)
                        guard case .downloaded(let metadata) = got, metadata.versionID == "v1" else {
                            return .failure(AWSClientError.invalidResponse("unexpected \(got)"))
                        }
                    } else {
                        try await s3.getObject(bucket: "b", key: "k", to: file)
                    }
                    return .success(try Data(contentsOf: URL(fileURLWithPath: file)))
                } catch {
                    #expect(!FileManager.default.fileExists(atPath: file), "a failed download left a file")
                    return .failure(error)
                }
            }
        }
        let requests = server.received
        try await server.shutdown()
        return (result, requests)
    }

    static func isGet(_ request: TestHTTPServer.Request) -> Bool {
        request.method == .GET && !request.uri.contains("attributes")
    }

    static func isMismatch(_ result: Result<Data, any Error>) -> Bool {
        if case .failure(let error as AWSClientError) = result { return error.isChecksumMismatch }
        return false
    }

    @Test(arguments: [4096, 2 << 20], [false, true])
    func substitutedBodyIsCaughtByTheMD5EntityTag(size: Int, direct: Bool) async throws {
        let object = StoredObject(data: testBytes(count: size), partSize: nil)
        let (result, requests) = try await download(object, direct: direct) { request, _ in Self.isGet(request) }
        #expect(Self.isMismatch(result), "\(result)")
        #expect(requests.filter(Self.isGet).count > 1, "the mismatch was not retried")
    }

    @Test(arguments: [4096, 2 << 20], [false, true])
    func transientCorruptionIsRetried(size: Int, direct: Bool) async throws {
        let object = StoredObject(data: testBytes(count: size), partSize: nil)
        // Only the first GET (or the first range) is wrong.
        let first = Mutex(true)
        let (result, _) = try await download(object, direct: direct) { request, _ in
            Self.isGet(request)
                && first.withLock { flag in
                    defer { flag = false }
                    return flag
                }
        }
        #expect(try result.get() == object.data)
    }

    /// With KMS the entity tag is not the MD5 of the content: it must not fail the download.
    @Test(arguments: [false, true])
    func kmsObjectIsNotCheckedAgainstItsEntityTag(direct: Bool) async throws {
        var object = StoredObject(data: testBytes(count: 4096), partSize: nil)
        object.serverSideEncryption = "aws:kms"
        object.opaqueETag = "0123456789abcdef0123456789abcdef"
        let (result, _) = try await download(object, direct: direct) { _, _ in false }
        #expect(try result.get() == object.data)
    }

    @Test(arguments: [true, false])
    func multipartPartsAreCheckedOneByOne(viaAttributes: Bool) async throws {
        var object = StoredObject(data: testBytes(count: (2 << 20) + 1234), partSize: 512 << 10)
        object.answersGetObjectAttributes = viaAttributes
        let (good, requests) = try await download(object) { _, _ in false }
        #expect(try good.get() == object.data)
        // Each range is exactly one part.
        let ranges = requests.compactMap { $0.headers.first(name: "Range") }.sorted()
        let expected = object.partRanges.map { "bytes=\($0.lowerBound)-\($0.upperBound - 1)" }.sorted()
        #expect(ranges == expected)

        // Part 3 wrong once: only it is downloaded again.
        let third = "bytes=\(object.partRanges[2].lowerBound)-"
        let once = Mutex(true)
        let (retried, retriedRequests) = try await download(object) { request, _ in
            (request.headers.first(name: "Range")?.hasPrefix(third) ?? false)
                && once.withLock { flag in
                    defer { flag = false }
                    return flag
                }
        }
        #expect(try retried.get() == object.data)
        #expect(retriedRequests.filter { $0.headers.first(name: "Range")?.hasPrefix(third) ?? false }.count == 2)

        // Part 3 always wrong: a mismatch, no file.
        let (failed, _) = try await download(object) { request, _ in request.headers.first(name: "Range")?.hasPrefix(third) ?? false }
        #expect(Self.isMismatch(failed), "\(failed)")
    }

    /// The scanner's single GET: no HeadObject for a small object; a multipart object is
    /// still checked part by part; an object over the limit is not downloaded.
    @Test func singleGetSavesTheHeadAndKeepsEveryCheck() async throws {
        let small = StoredObject(data: testBytes(count: 4096), partSize: nil)
        let (result, requests) = try await download(small, direct: true) { _, _ in false }
        #expect(try result.get() == small.data)
        #expect(requests.map(\.method) == [.GET], "one request: \(requests.map(\.method))")

        let multipart = StoredObject(data: testBytes(count: (2 << 20) + 1234), partSize: 512 << 10)
        let once = RetryPolicy(maxAttempts: 1, baseDelay: .milliseconds(1), maxDelay: .milliseconds(1), maxTotalTime: .seconds(5))
        let (bad, _) = try await download(multipart, direct: true, retries: once) { request, _ in
            request.headers.first(name: "Range") == "bytes=524288-1048575"
        }
        #expect(Self.isMismatch(bad), "the second part's corruption is caught by its checksum: \(bad)")

        let server = try await Self.server(small) { _, _ in false }
        try await withHTTPClient { httpClient in
            try await withTemporaryDirectory { directory in
                let s3 = try faults.makeS3(httpClient, server, retry: FaultInjectionTests.fastRetries)
                let got = try await s3.getObject(bucket: "b", key: "k", versionID: nil, ifMatch: nil, maxSize: 1000, to: "\(directory)/f")
                guard case .tooLarge(let metadata) = got else {
                    Issue.record("expected tooLarge, got \(got)")
                    return
                }
                #expect(metadata.size == 4096 && metadata.eTag == small.eTag)
                #expect(!FileManager.default.fileExists(atPath: "\(directory)/f"))
            }
        }
        try await server.shutdown()
    }
}

extension Data {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
