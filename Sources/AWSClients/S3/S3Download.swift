import AWSSigV4
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension S3Client {
    /// GetObject streamed to a file: one exact object version, never a partial file.
    ///
    /// A HeadObject first pins the version and entity tag; objects above
    /// ``S3TransferOptions/downloadThreshold`` then download in parallel ranges (each pinned with
    /// `versionId` and `If-Match`, so every range comes from the same bytes), smaller ones in one
    /// GET whose full-object checksum is checked when S3 has one. Every range must arrive
    /// complete (`Content-Range` and byte count); a range that breaks off is resumed where it
    /// stopped, within the retry policy. On any failure the file is removed and the error thrown.
    ///
    /// - Parameters:
    ///   - ifMatch: The entity tag the object must still have (412 `PreconditionFailed` otherwise).
    ///   - path: The file to create or replace.
    /// - Returns: The metadata of the version that was written.
    @discardableResult
    public func getObject(bucket: String, key: String, versionID: String? = nil, ifMatch: String? = nil, to path: String) async throws -> S3ObjectMetadata {
        let metadata = try await headObject(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch)
        return try await getObject(bucket: bucket, key: key, headed: metadata, to: path)
    }

    /// GetObject streamed to a file, for a caller that has just headed the object: the
    /// version and entity tag in `metadata` pin every request (a changed object answers 412),
    /// and its size decides between one GET and parallel ranges. Saves the HeadObject of
    /// ``getObject(bucket:key:versionID:ifMatch:to:)``; the same guarantees hold.
    @discardableResult
    public func getObject(bucket: String, key: String, headed metadata: S3ObjectMetadata, to path: String) async throws -> S3ObjectMetadata {
        let pinnedVersion = metadata.versionID
        let condition = Self.quoted(metadata.eTag)
        let file = try PositionalFile.create(path: path)
        do {
            try file.truncate(to: metadata.size)
            if metadata.size > transferOptions.downloadThreshold {
                try await downloadRanges(bucket: bucket, key: key, versionID: pinnedVersion, ifMatch: condition, size: metadata.size, into: file)
                if let checksum = metadata.checksum, !checksum.isComposite {
                    // Ranges arrive out of order: check a full-object checksum by reading the file back.
                    try await verify(checksum, ofFileAt: path, size: metadata.size, name: "s3://\(bucket)/\(key)")
                }
            } else {
                try await downloadWhole(bucket: bucket, key: key, versionID: pinnedVersion, ifMatch: condition, size: metadata.size, into: file)
            }
            file.close()
            return metadata
        } catch {
            file.close()
            PositionalFile.remove(path: path)
            throw error
        }
    }

    /// Reads a downloaded file back and compares its checksum with the one S3 announced.
    func verify(_ checksum: S3Checksum, ofFileAt path: String, size: Int64, name: String) async throws {
        let (reader, fileSize) = try PositionalFile.openForReading(path: path)
        defer { reader.close() }
        guard fileSize == size else { throw AWSClientError.incompleteBody("\(name): file has \(fileSize) bytes, expected \(size)") }
        var computer = ChecksumComputer(checksum.algorithm)
        var offset: Int64 = 0
        while offset < size {
            let count = Int(min(8 << 20, size - offset))
            let block = try await reader.read(count: count, at: offset)
            block.withUnsafeReadableBytes { computer.update($0) }
            offset += Int64(count)
        }
        let computed = computer.finalize()
        guard computed == checksum.value else {
            throw AWSClientError.checksumMismatch("\(name): \(checksum.algorithm.rawValue) of the download is \(computed), S3 announced \(checksum.value)")
        }
    }

    /// One GET of the whole object, restarted from the first byte on a retry, with the
    /// full-object checksum checked when the response carries one.
    func downloadWhole(bucket: String, key: String, versionID: String?, ifMatch: String, size: Int64, into file: PositionalFile) async throws {
        try await core.retryPolicy.run(onRetry: core.logRetry) { _ in
            let response = try await startGet(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: nil)
            guard response.status == .ok else {
                throw AWSClientError.invalidResponse("GetObject answered \(response.status.code), expected 200")
            }
            if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length != size {
                throw AWSClientError.invalidResponse("s3://\(bucket)/\(key) is \(length) bytes, HeadObject said \(size)")
            }
            let checksum = Self.metadata(from: response.headers, size: size).checksum.flatMap { $0.isComposite ? nil : $0 }
            var computer = checksum.map { ChecksumComputer($0.algorithm) }
            let received = try await stream(response, expected: size, from: 0, into: file, each: { chunk in
                chunk.withUnsafeReadableBytes { computer?.update($0) }
            })
            guard received == size else {
                throw AWSClientError.incompleteBody("s3://\(bucket)/\(key): received \(received) of \(size) bytes")
            }
            if let checksum, let computed = computer?.finalize(), computed != checksum.value {
                throw AWSClientError.checksumMismatch("s3://\(bucket)/\(key): \(checksum.algorithm.rawValue) of the download is \(computed), S3 announced \(checksum.value)")
            }
        }
    }

    /// Parallel ranged GETs, at most ``S3TransferOptions/downloadConcurrency`` in flight.
    func downloadRanges(bucket: String, key: String, versionID: String?, ifMatch: String, size: Int64, into file: PositionalFile) async throws {
        let partSize = transferOptions.downloadPartSize
        let ranges = stride(from: Int64(0), to: size, by: Int(partSize)).map { start in start...min(start + partSize, size) - 1 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<min(transferOptions.downloadConcurrency, ranges.count) {
                let range = ranges[next]
                next += 1
                group.addTask { try await self.downloadRange(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: range, total: size, into: file) }
            }
            while try await group.next() != nil {
                if next < ranges.count {
                    let range = ranges[next]
                    next += 1
                    group.addTask { try await self.downloadRange(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: range, total: size, into: file) }
                }
            }
        }
    }

    /// One range, resumed from the last byte written when the connection breaks.
    func downloadRange(bucket: String, key: String, versionID: String?, ifMatch: String, range: ClosedRange<Int64>, total: Int64, into file: PositionalFile) async throws {
        var done: Int64 = 0
        let length = range.count
        try await core.retryPolicy.run(onRetry: core.logRetry) { _ in
            let start = range.lowerBound + done
            let response = try await startGet(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: start...range.upperBound)
            guard response.status == .partialContent else {
                throw AWSClientError.invalidResponse("ranged GetObject answered \(response.status.code), expected 206")
            }
            let expectedContentRange = "bytes \(start)-\(range.upperBound)/\(total)"
            guard response.headers.first(name: "Content-Range") == expectedContentRange else {
                throw AWSClientError.invalidResponse("ranged GetObject answered Content-Range \(response.headers.first(name: "Content-Range") ?? "none"), expected \(expectedContentRange)")
            }
            let remaining = Int64(length) - done
            // Count what was written even when the body breaks off, so the retry resumes there.
            do {
                let received = try await stream(response, expected: remaining, from: start, into: file, progress: { done += $0 })
                guard received == remaining else {
                    throw AWSClientError.incompleteBody("s3://\(bucket)/\(key) bytes \(start)-\(range.upperBound): received \(received) of \(remaining)")
                }
            }
        }
    }

    /// Sends a (ranged) GET and returns the response once its head arrived; error statuses
    /// are decoded into ``AWSError``.
    func startGet(bucket: String, key: String, versionID: String?, ifMatch: String, range: ClosedRange<Int64>?) async throws -> HTTPClientResponse {
        let (host, path) = location(bucket: bucket, key: key)
        var headers: [(name: String, value: String)] = [(name: "If-Match", value: ifMatch)]
        if let range {
            headers.append((name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound)"))
        } else {
            headers.append((name: "x-amz-checksum-mode", value: "ENABLED"))
        }
        let request = try await core.makeRequest(method: .GET, host: host, path: path, query: Self.versionQuery(versionID), headers: headers, body: nil)
        let response = try await core.httpClient.execute(request, timeout: core.timeout, logger: core.logger)
        guard (200..<300).contains(response.status.code) else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw AWSServiceClient.decodeError(status: response.status, headers: response.headers, body: body)
        }
        return response
    }

    /// Streams a body to the file from `offset`, in writes of about 1 MiB, and returns the byte
    /// count. A body longer than `expected` is an error at once.
    func stream(_ response: HTTPClientResponse, expected: Int64, from offset: Int64, into file: PositionalFile,
                progress: (Int64) -> Void = { _ in }, each: (ByteBuffer) -> Void = { _ in }) async throws -> Int64 {
        var received: Int64 = 0
        var pending = ByteBuffer()
        var pendingOffset = offset
        let flushSize = 1 << 20
        do {
            for try await chunk in response.body {
                received += Int64(chunk.readableBytes)
                guard received <= expected else {
                    throw AWSClientError.incompleteBody("body is longer than the \(expected) bytes announced")
                }
                each(chunk)
                if pending.readableBytes == 0 && chunk.readableBytes >= flushSize {
                    try await file.write(chunk, at: pendingOffset)
                    pendingOffset += Int64(chunk.readableBytes)
                    progress(Int64(chunk.readableBytes))
                    continue
                }
                var chunk = chunk
                pending.writeBuffer(&chunk)
                if pending.readableBytes >= flushSize {
                    try await file.write(pending, at: pendingOffset)
                    pendingOffset += Int64(pending.readableBytes)
                    progress(Int64(pending.readableBytes))
                    pending.clear()
                }
            }
        } catch let error as AWSClientError {
            throw error
        } catch {
            // The connection broke: what arrived before is good, keep it so a retry resumes after it.
            if pending.readableBytes > 0, (try? await file.write(pending, at: pendingOffset)) != nil {
                progress(Int64(pending.readableBytes))
            }
            throw error
        }
        if pending.readableBytes > 0 {
            try await file.write(pending, at: pendingOffset)
            progress(Int64(pending.readableBytes))
        }
        return received
    }
}
