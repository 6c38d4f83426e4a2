import AWSSigV4
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// An S3 client for the calls the scanner and the updater make. Object keys are URI-encoded
/// once on every call, so keys with spaces, `+`, `%`, unicode and reserved characters work.
public struct S3Client: Sendable {
    let core: AWSServiceClient
    let pathStyle: Bool
    /// Sizes and parallelism of large downloads and uploads.
    public let transferOptions: S3TransferOptions

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - settings: Region, endpoint and addressing style.
    ///   - credentialsProvider: Where the signing credentials come from.
    ///   - httpClient: A shared HTTP client; the caller shuts it down. Build it with
    ///     `HTTPClient.Configuration.forAWSClients()` so that parallel ranges get their connections.
    ///   - now: The signing clock, injectable for tests.
    public init(
        settings: AWSSettings, credentialsProvider: any AWSCredentialsProvider, httpClient: HTTPClient,
        retryPolicy: RetryPolicy = .default, transferOptions: S3TransferOptions = S3TransferOptions(),
        logger: Logger = Logger(label: "aws.s3"), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.core = AWSServiceClient(
            httpClient: httpClient, credentialsProvider: credentialsProvider, region: settings.region,
            service: "s3", endpoint: settings.s3Endpoint, retryPolicy: retryPolicy, logger: logger,
            now: now, timeout: .seconds(300))
        self.pathStyle = settings.s3UsePathStyle
        self.transferOptions = transferOptions
    }

    // MARK: Addressing

    /// Host and wire path of a bucket or object. Buckets with dots use path style even on AWS
    /// (their virtual host name would not match the TLS certificate).
    func location(bucket: String, key: String? = nil) -> (host: String, path: String) {
        let encodedKey = key.map { SigV4Signer.uriEncode($0, encodeSlash: false) }
        if pathStyle || bucket.contains(".") {
            return (core.endpoint.hostHeader, "/\(SigV4Signer.uriEncode(bucket))" + (encodedKey.map { "/\($0)" } ?? ""))
        }
        var host = "\(bucket).\(core.endpoint.host)"
        if core.endpoint.hostHeader != core.endpoint.host, let port = core.endpoint.port { host += ":\(port)" }
        return (host, "/" + (encodedKey ?? ""))
    }

    static func versionQuery(_ versionID: String?) -> [(name: String, value: String)] {
        versionID.map { [(name: "versionId", value: $0)] } ?? []
    }

    /// An entity tag as a header value: quoted, whether or not the caller quoted it.
    static func quoted(_ eTag: String) -> String {
        eTag.hasPrefix("\"") || eTag.hasPrefix("W/") || eTag == "*" ? eTag : "\"\(eTag)\""
    }

    static func unquoted(_ eTag: String?) -> String {
        guard var eTag else { return "" }
        if eTag.hasPrefix("W/") { eTag.removeFirst(2) }
        if eTag.hasPrefix("\""), eTag.hasSuffix("\""), eTag.count >= 2 { eTag = String(eTag.dropFirst().dropLast()) }
        return eTag
    }

    static func metadata(from headers: HTTPHeaders, size: Int64) -> S3ObjectMetadata {
        var userMetadata: [String: String] = [:]
        for header in headers where header.name.lowercased().hasPrefix("x-amz-meta-") {
            userMetadata[String(header.name.lowercased().dropFirst("x-amz-meta-".count))] = header.value
        }
        let composite = headers.first(name: "x-amz-checksum-type")?.uppercased() == "COMPOSITE"
        let checksums = S3Checksum.Algorithm.allCases.compactMap { algorithm in
            headers.first(name: algorithm.headerName).map { S3Checksum(algorithm: algorithm, value: $0, composite: composite) }
        }
        return S3ObjectMetadata(
            size: size,
            eTag: unquoted(headers.first(name: "ETag")),
            versionID: headers.first(name: "x-amz-version-id").flatMap { $0 == "null" ? nil : $0 },
            lastModified: headers.first(name: "Last-Modified").flatMap(AWSDates.parseHTTPDate),
            contentType: headers.first(name: "Content-Type"),
            checksums: checksums,
            serverSideEncryption: headers.first(name: "x-amz-server-side-encryption"),
            customerKeyEncrypted: headers.first(name: "x-amz-server-side-encryption-customer-algorithm") != nil,
            userMetadata: userMetadata
        )
    }

    // MARK: HeadObject

    /// HeadObject: size, entity tag, version, last-modified time and checksum of an object version.
    ///
    /// - Throws: ``AWSError`` (`isNotFound` for a missing key or version, `isPreconditionFailed`
    ///   when `ifMatch` no longer matches).
    public func headObject(bucket: String, key: String, versionID: String? = nil, ifMatch: String? = nil) async throws -> S3ObjectMetadata {
        let (host, path) = location(bucket: bucket, key: key)
        var headers: [(name: String, value: String)] = [(name: "x-amz-checksum-mode", value: "ENABLED")]
        if let ifMatch { headers.append((name: "If-Match", value: Self.quoted(ifMatch))) }
        let response = try await core.execute(method: .HEAD, host: host, path: path, query: Self.versionQuery(versionID), headers: headers)
        let size = response.headers.first(name: "Content-Length").flatMap(Int64.init) ?? 0
        return Self.metadata(from: response.headers, size: size)
    }

    // MARK: GetObject into memory

    /// GetObject into memory, optionally conditional on the entity tag having changed
    /// (`If-None-Match`), as used to poll a small manifest.
    ///
    /// - Returns: `.notModified` when the object still has the entity tag `ifNoneMatch`.
    public func getObject(
        bucket: String, key: String, versionID: String? = nil, ifNoneMatch: String? = nil,
        maxSize: Int = 64 << 20
    ) async throws -> S3ConditionalGetResult {
        let (host, path) = location(bucket: bucket, key: key)
        var headers: [(name: String, value: String)] = [(name: "x-amz-checksum-mode", value: "ENABLED")]
        if let ifNoneMatch { headers.append((name: "If-None-Match", value: Self.quoted(ifNoneMatch))) }
        let response = try await core.execute(
            method: .GET, host: host, path: path, query: Self.versionQuery(versionID),
            headers: headers, accept: [304], maxBodySize: maxSize)
        if response.status == .notModified { return .notModified }
        let metadata = Self.metadata(from: response.headers, size: Int64(response.body.readableBytes))
        let integrity = DownloadIntegrity(metadata)
        var computers = integrity.fullObject.map { ChecksumComputer($0.algorithm) }
        var hasher = integrity.md5 != nil && integrity.partCount == nil ? Insecure.MD5() : nil
        response.body.withUnsafeReadableBytes { bytes in
            hasher?.update(bufferPointer: bytes)
            for index in computers.indices { computers[index].update(bytes) }
        }
        var digests = ContentDigests(md5: hasher.map { Data($0.finalize()) })
        for computer in computers { digests.checksums[computer.algorithm] = computer.finalize() }
        try Self.verify(whole: digests, against: integrity, name: "s3://\(bucket)/\(key)")
        return .modified(Data(buffer: response.body), metadata)
    }

    // MARK: Tagging

    /// GetObjectTagging of one object version.
    public func getObjectTagging(bucket: String, key: String, versionID: String? = nil) async throws -> [S3Tag] {
        try await tagging(bucket: bucket, key: key, versionID: versionID).tags
    }

    /// GetObjectTagging of the current version, with the version ID S3 answers with.
    public func currentTagging(bucket: String, key: String) async throws -> S3Tagging {
        try await tagging(bucket: bucket, key: key, versionID: nil)
    }

    private func tagging(bucket: String, key: String, versionID: String?) async throws -> S3Tagging {
        let (host, path) = location(bucket: bucket, key: key)
        let response = try await core.execute(
            method: .GET, host: host, path: path,
            query: [(name: "tagging", value: "")] + Self.versionQuery(versionID))
        let root = try XMLTree.parse(response.body.readableBytesView)
        return S3Tagging(
            tags: (root.child("TagSet")?.all("Tag") ?? []).map { S3Tag(key: $0.string("Key") ?? "", value: $0.string("Value") ?? "") },
            versionID: response.headers.first(name: "x-amz-version-id").flatMap { $0 == "null" ? nil : $0 })
    }

    /// PutObjectTagging of one object version: replaces the whole tag set (S3 keeps at most 10).
    public func putObjectTagging(bucket: String, key: String, versionID: String? = nil, tags: [S3Tag]) async throws {
        guard tags.count <= 10 else { throw AWSClientError.invalidArgument("S3 objects can have at most 10 tags, got \(tags.count)") }
        let (host, path) = location(bucket: bucket, key: key)
        let xml =
            "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>"
            + tags.map { "<Tag>\(XMLTree.element("Key", $0.key))\(XMLTree.element("Value", $0.value))</Tag>" }.joined()
            + "</TagSet></Tagging>"
        let body = ByteBuffer(string: xml)
        _ = try await core.execute(
            method: .PUT, host: host, path: path,
            query: [(name: "tagging", value: "")] + Self.versionQuery(versionID),
            headers: [
                (name: "Content-Type", value: "application/xml"),
                (name: "Content-MD5", value: Data(Insecure.MD5.hash(data: Data(xml.utf8))).base64EncodedString()),
            ],
            body: body)
    }

    // MARK: DeleteObject

    /// DeleteObject; with a version ID the version is deleted for good, without one S3 adds a
    /// delete marker to a versioned bucket.
    @discardableResult
    public func deleteObject(bucket: String, key: String, versionID: String? = nil, ifMatch: String? = nil) async throws -> S3DeleteResult {
        let (host, path) = location(bucket: bucket, key: key)
        // A conditional delete (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html):
        // 412 when the object no longer has this entity tag.
        let headers: [(name: String, value: String)] = ifMatch.map { [(name: "If-Match", value: Self.quoted($0))] } ?? []
        let response = try await core.execute(method: .DELETE, host: host, path: path, query: Self.versionQuery(versionID), headers: headers)
        return S3DeleteResult(
            versionID: response.headers.first(name: "x-amz-version-id"),
            deleteMarker: response.headers.first(name: "x-amz-delete-marker") == "true")
    }

    // MARK: CopyObject

    /// Copies one source version, e.g. into a quarantine bucket. The source is headed first
    /// (pinned to its version and, when given, its entity tag). Up to
    /// ``S3TransferOptions/copyThreshold`` one CopyObject copies it, its tags too unless
    /// `tags` replaces them; above (S3 copies at most 5 GiB at once), a multipart upload of
    /// UploadPartCopy parts, each pinned to the same version and entity tag, with `tags` and
    /// the source's content type.
    @discardableResult
    public func copyObject(
        sourceBucket: String, sourceKey: String, sourceVersionID: String? = nil, sourceIfMatch: String? = nil,
        destinationBucket: String, destinationKey: String, tags: [S3Tag]? = nil
    ) async throws -> S3WriteResult {
        let (host, path) = location(bucket: destinationBucket, key: destinationKey)
        var source = "/\(SigV4Signer.uriEncode(sourceBucket))/\(SigV4Signer.uriEncode(sourceKey, encodeSlash: false))"
        if let sourceVersionID { source += "?versionId=\(SigV4Signer.uriEncode(sourceVersionID))" }
        // The source's size decides between one CopyObject and a multipart copy.
        let head = try await headObject(bucket: sourceBucket, key: sourceKey, versionID: sourceVersionID, ifMatch: sourceIfMatch)
        if head.size > transferOptions.copyThreshold {
            let source = source
            return try await multipartUpload(
                bucket: destinationBucket, key: destinationKey, contentType: head.contentType, tags: tags ?? [], size: head.size,
                partSize: transferOptions.copyPartSize, concurrency: transferOptions.uploadConcurrency
            ) { partNumber, uploadID, offset, length in
                try await self.uploadPartCopy(
                    bucket: destinationBucket, key: destinationKey, uploadID: uploadID, partNumber: partNumber, source: source,
                    sourceIfMatch: sourceIfMatch ?? head.eTag, offset: offset, length: length)
            }
        }
        var headers: [(name: String, value: String)] = [(name: "x-amz-copy-source", value: source)]
        if let sourceIfMatch { headers.append((name: "x-amz-copy-source-if-match", value: Self.quoted(sourceIfMatch))) }
        if let tags {
            headers.append((name: "x-amz-tagging-directive", value: "REPLACE"))
            headers.append((name: "x-amz-tagging", value: Self.taggingHeader(tags)))
        }
        let response = try await core.execute(method: .PUT, host: host, path: path, headers: headers)
        let root = try Self.parseResultOrError(response)
        return S3WriteResult(eTag: Self.unquoted(root.string("ETag")), versionID: response.headers.first(name: "x-amz-version-id"))
    }

    /// CopyObject and CompleteMultipartUpload can answer 200 with an `<Error>` body.
    static func parseResultOrError(_ response: AWSServiceClient.Response) throws -> XMLTree {
        let root = try XMLTree.parse(response.body.readableBytesView)
        if root.name == "Error" {
            throw AWSServiceClient.decodeError(status: .internalServerError, headers: response.headers, body: response.body)
        }
        return root
    }

    /// Tags in the form encoding of `x-amz-tagging`.
    static func taggingHeader(_ tags: [S3Tag]) -> String {
        tags.map { "\(SigV4Signer.uriEncode($0.key))=\(SigV4Signer.uriEncode($0.value))" }.joined(separator: "&")
    }

    // MARK: PutObject

    /// PutObject from memory. The SHA-256 that signs the payload is also sent as the object's
    /// `x-amz-checksum-sha256`, so that later downloads can be checked.
    @discardableResult
    public func putObject(bucket: String, key: String, data: Data, contentType: String? = nil, tags: [S3Tag] = []) async throws -> S3WriteResult {
        try await putObject(bucket: bucket, key: key, body: ByteBuffer(bytes: data), contentType: contentType, tags: tags)
    }

    func putObject(bucket: String, key: String, body: ByteBuffer, contentType: String?, tags: [S3Tag]) async throws -> S3WriteResult {
        let (host, path) = location(bucket: bucket, key: key)
        var headers: [(name: String, value: String)] = [
            (name: "Content-Type", value: contentType ?? "application/octet-stream"),
            (name: "x-amz-checksum-sha256", value: Data(SHA256.hash(data: body.readableBytesView)).base64EncodedString()),
        ]
        if !tags.isEmpty { headers.append((name: "x-amz-tagging", value: Self.taggingHeader(tags))) }
        let response = try await core.execute(method: .PUT, host: host, path: path, headers: headers, body: body)
        return S3WriteResult(eTag: Self.unquoted(response.headers.first(name: "ETag")), versionID: response.headers.first(name: "x-amz-version-id"))
    }

    // MARK: ListObjectsV2

    /// One page of ListObjectsV2.
    public func listObjectsV2(
        bucket: String, prefix: String? = nil, delimiter: String? = nil,
        continuationToken: String? = nil, maxKeys: Int? = nil
    ) async throws -> S3ListPage {
        let (host, path) = location(bucket: bucket)
        var query: [(name: String, value: String)] = [(name: "list-type", value: "2")]
        if let prefix { query.append((name: "prefix", value: prefix)) }
        if let delimiter { query.append((name: "delimiter", value: delimiter)) }
        if let continuationToken { query.append((name: "continuation-token", value: continuationToken)) }
        if let maxKeys { query.append((name: "max-keys", value: String(maxKeys))) }
        let response = try await core.execute(method: .GET, host: host, path: path, query: query)
        let root = try XMLTree.parse(response.body.readableBytesView)
        let objects = root.all("Contents").map { node in
            S3ObjectSummary(
                key: node.string("Key") ?? "", size: Int64(node.string("Size") ?? "") ?? 0,
                eTag: Self.unquoted(node.string("ETag")), lastModified: node.string("LastModified").flatMap(AWSDates.parse))
        }
        let truncated = root.string("IsTruncated") == "true"
        return S3ListPage(
            objects: objects,
            commonPrefixes: root.all("CommonPrefixes").compactMap { $0.string("Prefix") },
            nextContinuationToken: truncated ? root.string("NextContinuationToken") : nil)
    }

    /// Every object under a prefix, following continuation tokens to the last page.
    public func listAllObjects(bucket: String, prefix: String? = nil) async throws -> [S3ObjectSummary] {
        var objects: [S3ObjectSummary] = []
        var token: String? = nil
        repeat {
            let page = try await listObjectsV2(bucket: bucket, prefix: prefix, continuationToken: token)
            objects += page.objects
            token = page.nextContinuationToken
        } while token != nil
        return objects
    }
}
