import AWSSigV4
import Foundation
import NIOCore
import NIOFoundationCompat

extension S3Client {
    /// PutObject from a file: one PUT up to ``S3TransferOptions/uploadThreshold``, a multipart
    /// upload with parallel parts above it (aborted if any part fails for good).
    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
    @discardableResult
    public func putObject(bucket: String, key: String, fileAt path: String, contentType: String? = nil, tags: [S3Tag] = []) async throws
        -> S3WriteResult
    {
        let (file, size) = try PositionalFile.openForReading(path: path)
        defer { file.close() }
        if size <= transferOptions.uploadThreshold {
            let body = try await file.read(count: Int(size), at: 0)
            return try await putObject(bucket: bucket, key: key, body: body, contentType: contentType, tags: tags)
        }
        return try await multipartUpload(
            bucket: bucket, key: key, contentType: contentType, tags: tags, size: size, partSize: transferOptions.uploadPartSize,
            concurrency: transferOptions.uploadConcurrency
        ) { partNumber, uploadID, offset, length in
            let body = try await file.read(count: Int(length), at: offset)
            return try await self.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: body)
        }
    }

    /// A multipart upload of `size` bytes: `part` writes the part at `offset` of `length`
    /// bytes and returns its entity tag; several run at once; any failure aborts the upload.
    func multipartUpload(
        bucket: String, key: String, contentType: String?, tags: [S3Tag], size: Int64, partSize: Int64, concurrency: Int,
        part: @escaping @Sendable (_ partNumber: Int, _ uploadID: String, _ offset: Int64, _ length: Int64) async throws -> String
    ) async throws -> S3WriteResult {
        // S3 allows at most 10,000 parts of at most 5 GiB.
        let partSize = max(partSize, (size + 9_999) / 10_000)
        let uploadID = try await createMultipartUpload(bucket: bucket, key: key, contentType: contentType, tags: tags)
        do {
            let partCount = Int((size + partSize - 1) / partSize)
            var eTags = [String](repeating: "", count: partCount)
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var next = 0
                func addPart(_ index: Int) {
                    group.addTask {
                        let offset = Int64(index) * partSize
                        return (index, try await part(index + 1, uploadID, offset, min(partSize, size - offset)))
                    }
                }
                while next < min(concurrency, partCount) {
                    addPart(next)
                    next += 1
                }
                while let (index, eTag) = try await group.next() {
                    eTags[index] = eTag
                    if next < partCount {
                        addPart(next)
                        next += 1
                    }
                }
            }
            return try await completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, eTags: eTags)
        } catch {
            try? await abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID)
            throw error
        }
    }

    /// UploadPartCopy of a byte range of one source version (only while its entity tag is
    /// still `sourceIfMatch`, when given); returns the part's entity tag.
    func uploadPartCopy(
        bucket: String, key: String, uploadID: String, partNumber: Int, source: String, sourceIfMatch: String?, offset: Int64, length: Int64
    ) async throws -> String {
        let (host, path) = location(bucket: bucket, key: key)
        var headers: [(name: String, value: String)] = [
            (name: "x-amz-copy-source", value: source), (name: "x-amz-copy-source-range", value: "bytes=\(offset)-\(offset + length - 1)"),
        ]
        if let sourceIfMatch { headers.append((name: "x-amz-copy-source-if-match", value: Self.quoted(sourceIfMatch))) }
        let response = try await core.execute(
            method: .PUT, host: host, path: path,
            query: [(name: "partNumber", value: String(partNumber)), (name: "uploadId", value: uploadID)], headers: headers)
        guard let eTag = try Self.parseResultOrError(response).string("ETag") else {
            throw AWSClientError.invalidResponse("UploadPartCopy answered no ETag")
        }
        return eTag
    }

    /// CreateMultipartUpload; returns the upload ID.
    func createMultipartUpload(bucket: String, key: String, contentType: String?, tags: [S3Tag]) async throws -> String {
        let (host, path) = location(bucket: bucket, key: key)
        var headers: [(name: String, value: String)] = [(name: "Content-Type", value: contentType ?? "application/octet-stream")]
        if !tags.isEmpty { headers.append((name: "x-amz-tagging", value: Self.taggingHeader(tags))) }
        let response = try await core.execute(method: .POST, host: host, path: path, query: [(name: "uploads", value: "")], headers: headers)
        guard let uploadID = try XMLTree.parse(response.body.readableBytesView).string("UploadId"), !uploadID.isEmpty else {
            throw AWSClientError.invalidResponse("CreateMultipartUpload answered no UploadId")
        }
        return uploadID
    }

    /// UploadPart; returns the part's entity tag.
    func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, body: ByteBuffer) async throws -> String {
        let (host, path) = location(bucket: bucket, key: key)
        let response = try await core.execute(
            method: .PUT, host: host, path: path,
            query: [(name: "partNumber", value: String(partNumber)), (name: "uploadId", value: uploadID)],
            body: body)
        guard let eTag = response.headers.first(name: "ETag") else { throw AWSClientError.invalidResponse("UploadPart answered no ETag") }
        return eTag
    }

    /// CompleteMultipartUpload, which may fail inside a 200 response.
    func completeMultipartUpload(bucket: String, key: String, uploadID: String, eTags: [String]) async throws -> S3WriteResult {
        let (host, path) = location(bucket: bucket, key: key)
        let xml =
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            + eTags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber>\(XMLTree.element("ETag", $0.element))</Part>" }.joined()
            + "</CompleteMultipartUpload>"
        let response = try await core.execute(
            method: .POST, host: host, path: path, query: [(name: "uploadId", value: uploadID)],
            headers: [(name: "Content-Type", value: "application/xml")], body: ByteBuffer(string: xml))
        let root = try Self.parseResultOrError(response)
        return S3WriteResult(eTag: Self.unquoted(root.string("ETag")), versionID: response.headers.first(name: "x-amz-version-id"))
    }

    /// AbortMultipartUpload, so that failed uploads leave no billed parts behind.
    func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        let (host, path) = location(bucket: bucket, key: key)
        _ = try await core.execute(method: .DELETE, host: host, path: path, query: [(name: "uploadId", value: uploadID)])
    }
}
