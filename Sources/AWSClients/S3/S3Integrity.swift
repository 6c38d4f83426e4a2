import Crypto
import Foundation
import NIOCore

/// One part of a multipart object: where its bytes lie and the checksums S3 keeps for it.
struct ObjectPart: Sendable, Equatable {
    let number: Int
    let offset: Int64
    let size: Int64
    /// Part-level checksums (never composite), when S3 has them.
    let checksums: [S3Checksum]

    var range: ClosedRange<Int64> { offset...(offset + size - 1) }
}

/// Everything S3 says the downloaded bytes must match, from the object's metadata
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html):
///
/// - full-object checksums (any algorithm, single-part or `FULL_OBJECT` multipart);
/// - a composite checksum (`-N`): the checksum of the parts' checksums, each part checked
///   against its own;
/// - the entity tag, which is the MD5 of the content for a single-part upload, and the MD5 of
///   the parts' MD5s followed by `-N` for a multipart one, unless the object is encrypted with
///   KMS or a customer key (then it is not an MD5), or the store writes other entity tags.
struct DownloadIntegrity: Sendable {
    let fullObject: [S3Checksum]
    let composite: S3Checksum?
    /// The MD5 (hex) the entity tag carries, when it is one.
    let md5: String?
    let partCount: Int?

    init(fullObject: [S3Checksum], composite: S3Checksum?, md5: String?, partCount: Int?) {
        self.fullObject = fullObject
        self.composite = composite
        self.md5 = md5
        self.partCount = partCount
    }

    init(_ metadata: S3ObjectMetadata) {
        fullObject = metadata.checksums.filter { !$0.isComposite }
        composite = metadata.checksums.first(where: \.isComposite)
        partCount = metadata.partCount
        let encrypted = metadata.customerKeyEncrypted || (metadata.serverSideEncryption?.lowercased().hasPrefix("aws:kms") ?? false)
        let hex = metadata.eTag.split(separator: "-").first.map { String($0).lowercased() } ?? ""
        let looksLikeMD5 = hex.count == 32 && hex.allSatisfy(\.isHexDigit)
        md5 = !encrypted && looksLikeMD5 ? hex : nil
    }

    /// Whether the download goes part by part: the parts' own checksums, and the multipart
    /// entity tag, can only be checked against each part's bytes.
    var needsParts: Bool { partCount != nil && (composite != nil || md5 != nil) }
}

/// The digests of some downloaded bytes.
struct ContentDigests: Sendable {
    var md5: Data?
    var checksums: [S3Checksum.Algorithm: String] = [:]
}

extension S3Client {
    /// Reads `range` of a downloaded file back and computes the MD5 (when asked) and the
    /// checksums of `algorithms`, in one pass.
    func digests(ofFileAt path: String, range: ClosedRange<Int64>, md5: Bool, algorithms: [S3Checksum.Algorithm]) async throws -> ContentDigests {
        let (reader, _) = try PositionalFile.openForReading(path: path)
        defer { reader.close() }
        var hasher = md5 ? Insecure.MD5() : nil
        var computers = algorithms.map(ChecksumComputer.init)
        var offset = range.lowerBound
        while offset <= range.upperBound {
            let count = Int(min(8 << 20, range.upperBound - offset + 1))
            let block = try await reader.read(count: count, at: offset)
            guard block.readableBytes == count else {
                throw AWSClientError.incompleteBody("\(path): short read at \(offset)")
            }
            block.withUnsafeReadableBytes { bytes in
                hasher?.update(bufferPointer: bytes)
                for index in computers.indices { computers[index].update(bytes) }
            }
            offset += Int64(count)
        }
        var result = ContentDigests(md5: hasher.map { Data($0.finalize()) })
        for computer in computers { result.checksums[computer.algorithm] = computer.finalize() }
        return result
    }

    /// Checks the digests of the whole content against what S3 announced.
    static func verify(whole digests: ContentDigests, against integrity: DownloadIntegrity, name: String) throws {
        for checksum in integrity.fullObject where digests.checksums[checksum.algorithm] != checksum.value {
            throw AWSClientError.checksumMismatch(
                "\(name): \(checksum.algorithm.rawValue) of the download is \(digests.checksums[checksum.algorithm] ?? "?"), S3 announced \(checksum.value)"
            )
        }
        if integrity.partCount == nil, let md5 = integrity.md5, let computed = digests.md5, computed.hexString != md5 {
            throw AWSClientError.checksumMismatch("\(name): MD5 of the download is \(computed.hexString), the entity tag says \(md5)")
        }
    }

    /// Checks one part's bytes against the part's own checksums.
    static func verify(part: ObjectPart, digests: ContentDigests, name: String) throws {
        for checksum in part.checksums where digests.checksums[checksum.algorithm] != checksum.value {
            throw AWSClientError.checksumMismatch(
                "\(name) part \(part.number): \(checksum.algorithm.rawValue) is \(digests.checksums[checksum.algorithm] ?? "?"), S3 announced \(checksum.value)"
            )
        }
    }

    /// Checks what can only be checked from all the parts: the multipart entity tag (the MD5
    /// of the parts' MD5s) and the composite checksum (the checksum of the parts' checksums).
    static func verify(parts: [ObjectPart], md5s: [Data], against integrity: DownloadIntegrity, name: String) throws {
        if let md5 = integrity.md5, md5s.count == parts.count {
            var hasher = Insecure.MD5()
            for digest in md5s { hasher.update(data: digest) }
            let computed = Data(hasher.finalize()).hexString
            guard computed == md5, parts.count == integrity.partCount else {
                throw AWSClientError.checksumMismatch(
                    "\(name): the MD5 of the parts' MD5s is \(computed)-\(parts.count), the entity tag says \(md5)-\(integrity.partCount ?? 0)"
                )
            }
        }
        if let composite = integrity.composite {
            let partValues = parts.compactMap { part in part.checksums.first { $0.algorithm == composite.algorithm }?.value }
            // Without every part's checksum S3 offers nothing to check the composite against.
            guard partValues.count == parts.count else { return }
            var computer = ChecksumComputer(composite.algorithm)
            for value in partValues {
                guard let raw = Data(base64Encoded: value) else {
                    throw AWSClientError.invalidResponse("\(name): part checksum \(value) is not base64")
                }
                raw.withUnsafeBytes { computer.update($0) }
            }
            let computed = computer.finalize()
            guard computed == composite.digestValue else {
                throw AWSClientError.checksumMismatch(
                    "\(name): the \(composite.algorithm.rawValue) of the parts' checksums is \(computed), S3 announced \(composite.value)"
                )
            }
        }
    }

    /// Where each part of a multipart object lies, with the parts' checksums: from
    /// GetObjectAttributes (up to 1,000 parts a request), or, where that is not answered
    /// (not allowed, or a store that does not implement it), from a HeadObject per part.
    func partLayout(bucket: String, key: String, versionID: String?, size: Int64, partCount: Int) async throws -> [ObjectPart] {
        let listed = (try? await partsFromAttributes(bucket: bucket, key: key, versionID: versionID)) ?? []
        let sizes: [(number: Int, size: Int64, checksums: [S3Checksum])]
        if listed.count == partCount {
            sizes = listed
        } else {
            sizes = try await partsFromHeads(bucket: bucket, key: key, versionID: versionID, count: partCount)
        }
        var parts: [ObjectPart] = []
        var offset: Int64 = 0
        for part in sizes.sorted(by: { $0.number < $1.number }) {
            guard part.size > 0 else { throw AWSClientError.invalidResponse("s3://\(bucket)/\(key): part \(part.number) is empty") }
            parts.append(ObjectPart(number: part.number, offset: offset, size: part.size, checksums: part.checksums))
            offset += part.size
        }
        guard offset == size, parts.map(\.number) == Array(1...partCount) else {
            throw AWSClientError.invalidResponse("s3://\(bucket)/\(key): the \(parts.count) parts cover \(offset) bytes, the object has \(size)")
        }
        return parts
    }

    private func partsFromAttributes(bucket: String, key: String, versionID: String?) async throws -> [(
        number: Int, size: Int64, checksums: [S3Checksum]
    )] {
        let (host, path) = location(bucket: bucket, key: key)
        var parts: [(number: Int, size: Int64, checksums: [S3Checksum])] = []
        var marker: String?
        repeat {
            var headers: [(name: String, value: String)] = [
                (name: "x-amz-object-attributes", value: "ObjectParts"), (name: "x-amz-max-parts", value: "1000"),
            ]
            if let marker { headers.append((name: "x-amz-part-number-marker", value: marker)) }
            let response = try await core.execute(
                method: .GET, host: host, path: path, query: [(name: "attributes", value: "")] + Self.versionQuery(versionID), headers: headers
            )
            let root = try XMLTree.parse(response.body.readableBytesView)
            guard let list = root.child("ObjectParts") else { return [] }
            for part in list.all("Part") {
                guard let number = part.string("PartNumber").flatMap(Int.init), let size = part.string("Size").flatMap(Int64.init) else {
                    throw AWSClientError.invalidResponse("s3://\(bucket)/\(key): GetObjectAttributes lists a part without number or size")
                }
                let checksums = S3Checksum.Algorithm.allCases.compactMap { algorithm in
                    part.string("Checksum\(algorithm.rawValue)").map { S3Checksum(algorithm: algorithm, value: $0) }
                }
                parts.append((number, size, checksums))
            }
            marker = list.string("IsTruncated") == "true" ? list.string("NextPartNumberMarker") : nil
        } while marker != nil
        return parts
    }

    private func partsFromHeads(bucket: String, key: String, versionID: String?, count: Int) async throws -> [(
        number: Int, size: Int64, checksums: [S3Checksum]
    )] {
        try await withThrowingTaskGroup(of: (number: Int, size: Int64, checksums: [S3Checksum]).self) { group in
            var next = 1
            var parts: [(number: Int, size: Int64, checksums: [S3Checksum])] = []
            func add() {
                let number = next
                next += 1
                group.addTask {
                    let (host, path) = self.location(bucket: bucket, key: key)
                    let response = try await self.core.execute(
                        method: .HEAD, host: host, path: path,
                        query: [(name: "partNumber", value: String(number))] + Self.versionQuery(versionID),
                        headers: [(name: "x-amz-checksum-mode", value: "ENABLED")]
                    )
                    let size = response.headers.first(name: "Content-Length").flatMap(Int64.init) ?? 0
                    // A part's own checksum, when S3 keeps one (never a "-N" composite value).
                    let checksums = S3Checksum.Algorithm.allCases.compactMap { algorithm in
                        response.headers.first(name: algorithm.headerName).flatMap {
                            $0.contains("-") ? nil : S3Checksum(algorithm: algorithm, value: $0)
                        }
                    }
                    return (number, size, checksums)
                }
            }
            for _ in 0..<min(transferOptions.downloadConcurrency, count) { add() }
            while let part = try await group.next() {
                parts.append(part)
                if next <= count { add() }
            }
            return parts
        }
    }
}

extension Data {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
