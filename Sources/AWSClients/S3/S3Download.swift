import AWSSigV4
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension S3Client {
    /// GetObject streamed to a file: one exact object version, never a partial file, never
    /// bytes that differ from what S3 stored.
    ///
    /// A HeadObject first pins the version and entity tag; objects above
    /// ``S3TransferOptions/downloadThreshold`` then download in parallel ranges (each pinned with
    /// `versionId` and `If-Match`, so every range comes from the same bytes), smaller ones in one
    /// GET. Every range must arrive complete (`Content-Range` and byte count); a range that
    /// breaks off is resumed where it stopped, within the retry policy. The bytes are checked
    /// against everything S3 offers (``DownloadIntegrity``): full-object checksums, the MD5
    /// entity tag, and for a multipart object each part against its own checksum (the ranges
    /// are then the parts), the composite checksum and the multipart entity tag. A mismatch
    /// is retried like any transient fault, then thrown (`AWSClientError.checksumMismatch`).
    /// On any failure the file is removed and the error thrown.
    ///
    /// - Parameters:
    ///   - ifMatch: The entity tag the object must still have (412 `PreconditionFailed` otherwise).
    ///   - path: The file to create or replace.
    /// - Returns: The metadata of the version that was written.
    @discardableResult
    public func getObject(bucket: String, key: String, versionID: String? = nil, ifMatch: String? = nil, to path: String) async throws
        -> S3ObjectMetadata
    {
        let metadata = try await headObject(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch)
        return try await getObject(bucket: bucket, key: key, headed: metadata, to: path)
    }

    /// GetObject streamed to a file, for a caller that has just headed the object: the
    /// version and entity tag in `metadata` pin every request (a changed object answers 412),
    /// and its size decides between one GET and parallel ranges. Saves the HeadObject of
    /// ``getObject(bucket:key:versionID:ifMatch:to:)``; the same guarantees hold.
    @discardableResult
    public func getObject(bucket: String, key: String, headed metadata: S3ObjectMetadata, to path: String) async throws -> S3ObjectMetadata {
        let integrity = DownloadIntegrity(metadata)
        let name = "s3://\(bucket)/\(key)"
        let parts =
            integrity.needsParts && metadata.size > 0
            ? try await partLayout(bucket: bucket, key: key, versionID: metadata.versionID, size: metadata.size, partCount: integrity.partCount ?? 1)
            : nil
        // A mismatch found only once every byte is there (a range that was wrong) restarts the
        // download; one found in a single GET or a part is retried where it happened.
        var attempt = 1
        while true {
            do {
                return try await download(bucket: bucket, key: key, headed: metadata, integrity: integrity, parts: parts, name: name, to: path)
            } catch let late as LateMismatch {
                guard attempt < core.retryPolicy.maxAttempts else { throw late.error }
                core.logger.debug("download of \(name) did not match, starting again", metadata: ["attempt": "\(attempt)", "error": "\(late.error)"])
                attempt += 1
            }
        }
    }

    /// GetObject streamed to a file without a HeadObject first: one GET, pinned to `versionID`
    /// and `ifMatch` when given, whose response head names the version, entity tag, size and
    /// checksums. A small single-part object is streamed from that same response, checked as
    /// in ``getObject(bucket:key:headed:to:)``, retries pinned to the version and entity tag
    /// it answered with. An object over `maxSize` is not read: its metadata comes back as
    /// ``S3DirectGet/tooLarge(_:)``. A large or multipart object is downloaded in ranges or
    /// parts as ``getObject(bucket:key:headed:to:)`` does, from the metadata of the first
    /// response, whose body is dropped (what a HeadObject would have cost).
    public func getObject(bucket: String, key: String, versionID: String?, ifMatch: String?, maxSize: Int64, to path: String) async throws
        -> S3DirectGet
    {
        let response = try await core.retryPolicy.run(onRetry: core.logRetry) { _ in
            try await startGet(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch.map(Self.quoted), range: nil)
        }
        guard response.status == .ok, let size = response.headers.first(name: "Content-Length").flatMap(Int64.init) else {
            throw AWSClientError.invalidResponse("GetObject answered \(response.status.code) without a length, expected 200")
        }
        let metadata = Self.metadata(from: response.headers, size: size)
        let integrity = DownloadIntegrity(metadata)
        guard size <= maxSize, size <= transferOptions.downloadThreshold, !integrity.needsParts else {
            // Not read: breaking off the body closes the connection.
            for try await _ in response.body { break }
            if size > maxSize { return .tooLarge(metadata) }
            return .downloaded(try await getObject(bucket: bucket, key: key, headed: metadata, to: path))
        }
        let file = try PositionalFile.create(path: path)
        do {
            try file.truncate(to: size)
            try await downloadWhole(
                bucket: bucket, key: key, versionID: metadata.versionID, ifMatch: Self.quoted(metadata.eTag), size: size,
                integrity: integrity, into: file, name: "s3://\(bucket)/\(key)", first: response)
            file.close()
            return .downloaded(metadata)
        } catch {
            file.close()
            PositionalFile.remove(path: path)
            throw error
        }
    }

    /// A mismatch that could only be seen once the whole object was downloaded.
    private struct LateMismatch: Error {
        let error: any Error
    }

    /// Runs whole-content checks; their failures restart the download.
    private func lateCheck(_ check: () async throws -> Void) async throws {
        do {
            try await check()
        } catch let error as AWSClientError where error.isChecksumMismatch {
            throw LateMismatch(error: error)
        }
    }

    private func download(
        bucket: String, key: String, headed metadata: S3ObjectMetadata, integrity: DownloadIntegrity, parts: [ObjectPart]?,
        name: String, to path: String
    ) async throws -> S3ObjectMetadata {
        let pinnedVersion = metadata.versionID
        let condition = Self.quoted(metadata.eTag)
        let file = try PositionalFile.create(path: path)
        do {
            try file.truncate(to: metadata.size)
            if let parts {
                let md5s = try await downloadParts(
                    parts, bucket: bucket, key: key, versionID: pinnedVersion, ifMatch: condition, size: metadata.size,
                    md5: integrity.md5 != nil, into: file, path: path, name: name
                )
                try await lateCheck {
                    try Self.verify(parts: parts, md5s: md5s, against: integrity, name: name)
                    if !integrity.fullObject.isEmpty {
                        let digests = try await digests(
                            ofFileAt: path, range: 0...(metadata.size - 1), md5: false, algorithms: integrity.fullObject.map(\.algorithm)
                        )
                        try Self.verify(whole: digests, against: integrity, name: name)
                    }
                }
            } else if metadata.size > transferOptions.downloadThreshold {
                try await downloadRanges(bucket: bucket, key: key, versionID: pinnedVersion, ifMatch: condition, size: metadata.size, into: file)
                // Ranges arrive out of order: check the whole content by reading the file back.
                if !integrity.fullObject.isEmpty || (integrity.md5 != nil && integrity.partCount == nil) {
                    try await lateCheck {
                        let digests = try await digests(
                            ofFileAt: path, range: 0...(metadata.size - 1), md5: integrity.md5 != nil && integrity.partCount == nil,
                            algorithms: integrity.fullObject.map(\.algorithm)
                        )
                        try Self.verify(whole: digests, against: integrity, name: name)
                    }
                }
            } else {
                try await downloadWhole(
                    bucket: bucket, key: key, versionID: pinnedVersion, ifMatch: condition, size: metadata.size,
                    integrity: integrity, into: file, name: name)
            }
            file.close()
            return metadata
        } catch {
            file.close()
            PositionalFile.remove(path: path)
            throw error
        }
    }

    /// One GET of the whole object, restarted from the first byte on a retry, checked while
    /// it streams.
    func downloadWhole(
        bucket: String, key: String, versionID: String?, ifMatch: String, size: Int64,
        integrity: DownloadIntegrity, into file: PositionalFile, name: String, first: HTTPClientResponse? = nil
    ) async throws {
        var first = first
        try await core.retryPolicy.run(onRetry: core.logRetry) { _ in
            let response: HTTPClientResponse
            if let unread = first {
                response = unread
                first = nil
            } else {
                response = try await startGet(bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: nil)
            }
            guard response.status == .ok else {
                throw AWSClientError.invalidResponse("GetObject answered \(response.status.code), expected 200")
            }
            if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length != size {
                throw AWSClientError.invalidResponse("\(name) is \(length) bytes, HeadObject said \(size)")
            }
            // What the HeadObject announced, and what this response announces besides.
            var announced = integrity.fullObject
            for checksum in Self.metadata(from: response.headers, size: size).checksums
            where !checksum.isComposite && !announced.contains(where: { $0.algorithm == checksum.algorithm }) {
                announced.append(checksum)
            }
            let checks = DownloadIntegrity(fullObject: announced, composite: integrity.composite, md5: integrity.md5, partCount: integrity.partCount)
            var computers = checks.fullObject.map { ChecksumComputer($0.algorithm) }
            var hasher = checks.md5 != nil && checks.partCount == nil ? Insecure.MD5() : nil
            let received = try await stream(
                response, expected: size, from: 0, into: file,
                each: { chunk in
                    chunk.withUnsafeReadableBytes { bytes in
                        hasher?.update(bufferPointer: bytes)
                        for index in computers.indices { computers[index].update(bytes) }
                    }
                })
            guard received == size else {
                throw AWSClientError.incompleteBody("\(name): received \(received) of \(size) bytes")
            }
            var digests = ContentDigests(md5: hasher.map { Data($0.finalize()) })
            for computer in computers { digests.checksums[computer.algorithm] = computer.finalize() }
            try Self.verify(whole: digests, against: checks, name: name)
        }
    }

    /// The parts of a multipart object as ranges, at most ``S3TransferOptions/downloadConcurrency``
    /// in flight; each is checked against its own checksums as soon as it is complete (and
    /// downloaded again when it does not match). Returns the parts' MD5s when asked.
    func downloadParts(
        _ parts: [ObjectPart], bucket: String, key: String, versionID: String?, ifMatch: String, size: Int64,
        md5: Bool, into file: PositionalFile, path: String, name: String
    ) async throws -> [Data] {
        let digests = try await withThrowingTaskGroup(of: (Int, Data?).self) { group in
            var next = 0
            var results: [Int: Data?] = [:]
            func add() {
                let part = parts[next]
                next += 1
                group.addTask {
                    var md5Digest: Data?
                    try await self.downloadRange(
                        bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: part.range, total: size, into: file
                    ) {
                        let digests = try await self.digests(
                            ofFileAt: path, range: part.range, md5: md5, algorithms: part.checksums.map(\.algorithm)
                        )
                        try Self.verify(part: part, digests: digests, name: name)
                        md5Digest = digests.md5
                    }
                    return (part.number, md5Digest)
                }
            }
            for _ in 0..<min(transferOptions.downloadConcurrency, parts.count) { add() }
            while let (number, digest) = try await group.next() {
                results[number] = digest
                if next < parts.count { add() }
            }
            return results
        }
        return md5 ? parts.compactMap { digests[$0.number] ?? nil } : []
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
                group.addTask {
                    try await self.downloadRange(
                        bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: range, total: size, into: file)
                }
            }
            while try await group.next() != nil {
                if next < ranges.count {
                    let range = ranges[next]
                    next += 1
                    group.addTask {
                        try await self.downloadRange(
                            bucket: bucket, key: key, versionID: versionID, ifMatch: ifMatch, range: range, total: size, into: file)
                    }
                }
            }
        }
    }

    /// One range, resumed from the last byte written when the connection breaks. `check`
    /// runs once the range is complete; when it throws, the whole range is downloaded again
    /// (within the retry policy).
    func downloadRange(
        bucket: String, key: String, versionID: String?, ifMatch: String, range: ClosedRange<Int64>, total: Int64,
        into file: PositionalFile, check: (() async throws -> Void)? = nil
    ) async throws {
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
                throw AWSClientError.invalidResponse(
                    "ranged GetObject answered Content-Range \(response.headers.first(name: "Content-Range") ?? "none"), expected \(expectedContentRange)"
                )
            }
            let remaining = Int64(length) - done
            // Count what was written even when the body breaks off, so the retry resumes there.
            do {
                let received = try await stream(response, expected: remaining, from: start, into: file, progress: { done += $0 })
                guard received == remaining else {
                    throw AWSClientError.incompleteBody(
                        "s3://\(bucket)/\(key) bytes \(start)-\(range.upperBound): received \(received) of \(remaining)")
                }
            }
            do {
                try await check?()
            } catch {
                done = 0
                throw error
            }
        }
    }

    /// Sends a (ranged) GET and returns the response once its head arrived; error statuses
    /// are decoded into ``AWSError``.
    func startGet(bucket: String, key: String, versionID: String?, ifMatch: String?, range: ClosedRange<Int64>?) async throws -> HTTPClientResponse {
        let (host, path) = location(bucket: bucket, key: key)
        var headers: [(name: String, value: String)] = ifMatch.map { [(name: "If-Match", value: $0)] } ?? []
        if let range {
            headers.append((name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound)"))
        } else {
            headers.append((name: "x-amz-checksum-mode", value: "ENABLED"))
        }
        let request = try await core.makeRequest(
            method: .GET, host: host, path: path, query: Self.versionQuery(versionID), headers: headers, body: nil)
        let response = try await core.httpClient.execute(request, timeout: core.timeout, logger: core.logger)
        guard (200..<300).contains(response.status.code) else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw AWSServiceClient.decodeError(status: response.status, headers: response.headers, body: body)
        }
        return response
    }

    /// Streams a body to the file from `offset`, in writes of about 1 MiB, and returns the byte
    /// count. A body longer than `expected` is an error at once.
    func stream(
        _ response: HTTPClientResponse, expected: Int64, from offset: Int64, into file: PositionalFile,
        progress: (Int64) -> Void = { _ in }, each: (ByteBuffer) -> Void = { _ in }
    ) async throws -> Int64 {
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
