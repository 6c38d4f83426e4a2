import AWSClients
import Crypto
import Foundation
import Synchronization

/// An S3 stand-in in memory, for the workflow's branches: versioned and unversioned buckets,
/// entity tags that are the content's MD5, conditional requests as S3 answers them, and hooks
/// that act between the workflow's steps (an upload that replaces the object, a 403).
public final class InMemoryObjectStore: ObjectStore {
    /// One stored version.
    public struct Version: Sendable {
        public var id: String?
        public var data: Data
        public var eTag: String
        public var tags: [S3Tag]
    }

    /// A request the workflow sends, for hooks.
    public enum Call: Sendable, Equatable {
        case head, get, getTags, putTags, delete, copy, put, list
    }

    private struct State {
        var versioned: [String: Bool] = [:]
        var objects: [String: [String: [Version]]] = [:]
        var calls: [(Call, String)] = []
        var counter = 0
    }

    private let state = Mutex(State())
    /// Runs before every request (after it is recorded); may change the store or throw.
    public let hook: Mutex<@Sendable (Call, String, InMemoryObjectStore) throws -> Void> = Mutex { _, _, _ in }

    /// An empty store.
    public init() {}

    /// Creates a bucket.
    public func createBucket(_ name: String, versioned: Bool) {
        state.withLock {
            $0.versioned[name] = versioned
            $0.objects[name] = [:]
        }
    }

    /// Uploads content; returns its version ID (nil in an unversioned bucket).
    @discardableResult
    public func put(_ bucket: String, _ key: String, _ data: Data, tags: [S3Tag] = []) -> String? {
        state.withLock { state in
            state.counter += 1
            let versioned = state.versioned[bucket] ?? false
            let version = Version(
                id: versioned ? "v\(state.counter)" : nil, data: data,
                eTag: Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined(), tags: tags)
            if versioned {
                state.objects[bucket, default: [:]][key, default: []].append(version)
            } else {
                state.objects[bucket, default: [:]][key] = [version]
            }
            return version.id
        }
    }

    /// The current version of a key.
    public func current(_ bucket: String, _ key: String) -> Version? {
        state.withLock { $0.objects[bucket]?[key]?.last }
    }

    /// How many requests of a kind were made.
    public func calls(_ call: Call) -> Int { state.withLock { $0.calls.filter { $0.0 == call }.count } }

    /// How many requests of a kind were made for one key.
    public func calls(_ call: Call, key: String) -> Int { state.withLock { $0.calls.filter { $0 == (call, key) }.count } }

    /// An error as S3 answers it.
    public static func error(_ status: Int, _ code: String) -> AWSError {
        AWSError(code: code, message: code, requestID: nil, statusCode: status)
    }

    private func enter(_ call: Call, _ key: String) throws {
        state.withLock { $0.calls.append((call, key)) }
        try hook.withLock { $0 }(call, key, self)
    }

    /// The version a request names: an exact version, or the current one, which must still
    /// have the entity tag `ifMatch` when one is given.
    private func version(_ bucket: String, _ key: String, _ versionID: String?, ifMatch: String?) throws -> Version {
        try state.withLock { state in
            guard let versions = state.objects[bucket]?[key], let latest = versions.last else { throw Self.error(404, "NoSuchKey") }
            let version: Version
            if let versionID {
                guard let found = versions.first(where: { $0.id == versionID }) else { throw Self.error(404, "NoSuchVersion") }
                version = found
            } else {
                version = latest
            }
            if let ifMatch, ifMatch != version.eTag { throw Self.error(412, "PreconditionFailed") }
            return version
        }
    }

    private func metadata(_ version: Version) -> S3ObjectMetadata {
        S3ObjectMetadata(size: Int64(version.data.count), eTag: version.eTag, versionID: version.id)
    }

    public func headObject(bucket: String, key: String, versionID: String?, ifMatch: String?) async throws -> S3ObjectMetadata {
        try enter(.head, key)
        return metadata(try version(bucket, key, versionID, ifMatch: ifMatch))
    }

    public func getObject(bucket: String, key: String, versionID: String?, ifMatch: String?, to path: String) async throws -> S3ObjectMetadata {
        try enter(.get, key)
        let found = try version(bucket, key, versionID, ifMatch: ifMatch)
        try found.data.write(to: URL(fileURLWithPath: path))
        return metadata(found)
    }

    public func getObject(bucket: String, key: String, headed metadata: S3ObjectMetadata, to path: String) async throws -> S3ObjectMetadata {
        try await getObject(bucket: bucket, key: key, versionID: metadata.versionID, ifMatch: metadata.eTag, to: path)
    }

    public func getObject(bucket: String, key: String, versionID: String?, ifMatch: String?, maxSize: Int64, to path: String) async throws
        -> S3DirectGet
    {
        try enter(.get, key)
        let found = try version(bucket, key, versionID, ifMatch: ifMatch)
        guard found.data.count <= maxSize else { return .tooLarge(metadata(found)) }
        try found.data.write(to: URL(fileURLWithPath: path))
        return .downloaded(metadata(found))
    }

    public func getObject(bucket: String, key: String, versionID: String?, ifNoneMatch: String?, maxSize: Int) async throws -> S3ConditionalGetResult
    {
        try enter(.get, key)
        let found = try version(bucket, key, versionID, ifMatch: nil)
        if found.eTag == ifNoneMatch { return .notModified }
        return .modified(found.data, metadata(found))
    }

    /// Pages in key order; the continuation token is the last key of the previous page.
    public func listObjectsV2(bucket: String, prefix: String?, delimiter: String?, continuationToken: String?, maxKeys: Int?) async throws
        -> S3ListPage
    {
        try enter(.list, bucket)
        precondition(delimiter == nil, "the in-memory store lists without a delimiter")
        return try state.withLock { state in
            guard let keys = state.objects[bucket] else { throw Self.error(404, "NoSuchBucket") }
            let matching = keys.compactMap { key, versions in
                versions.last.map { (key: key, version: $0) }
            }
            .filter { $0.key.hasPrefix(prefix ?? "") && $0.key > (continuationToken ?? "") }
            .sorted { $0.key < $1.key }
            let page = matching.prefix(maxKeys ?? 1000)
            return S3ListPage(
                objects: page.map { S3ObjectSummary(key: $0.key, size: Int64($0.version.data.count), eTag: $0.version.eTag, lastModified: Date()) },
                commonPrefixes: [], nextContinuationToken: matching.count > page.count ? page.last?.key : nil)
        }
    }

    public func currentTagging(bucket: String, key: String) async throws -> S3Tagging {
        try enter(.getTags, key)
        let found = try version(bucket, key, nil, ifMatch: nil)
        return S3Tagging(tags: found.tags, versionID: found.id)
    }

    public func getObjectTagging(bucket: String, key: String, versionID: String?) async throws -> [S3Tag] {
        try enter(.getTags, key)
        return try version(bucket, key, versionID, ifMatch: nil).tags
    }

    public func putObjectTagging(bucket: String, key: String, versionID: String?, tags: [S3Tag]) async throws {
        try enter(.putTags, key)
        let target = try version(bucket, key, versionID, ifMatch: nil)
        state.withLock { state in
            guard var versions = state.objects[bucket]?[key], let index = versions.lastIndex(where: { $0.id == target.id && $0.eTag == target.eTag })
            else { return }
            versions[index].tags = tags
            state.objects[bucket]?[key] = versions
        }
    }

    public func deleteObject(bucket: String, key: String, versionID: String?, ifMatch: String?) async throws -> S3DeleteResult {
        try enter(.delete, key)
        let target = try version(bucket, key, versionID, ifMatch: ifMatch)
        state.withLock { state in
            state.objects[bucket]?[key]?.removeAll { $0.id == target.id && $0.eTag == target.eTag }
            if state.objects[bucket]?[key]?.isEmpty == true { state.objects[bucket]?[key] = nil }
        }
        return S3DeleteResult(versionID: target.id, deleteMarker: false)
    }

    public func putObject(bucket: String, key: String, fileAt path: String, contentType: String?, tags: [S3Tag]) async throws -> S3WriteResult {
        try await putObject(bucket: bucket, key: key, data: try Data(contentsOf: URL(fileURLWithPath: path)), contentType: contentType, tags: tags)
    }

    public func putObject(bucket: String, key: String, data: Data, contentType: String?, tags: [S3Tag]) async throws -> S3WriteResult {
        try enter(.put, key)
        let id = put(bucket, key, data, tags: tags)
        return S3WriteResult(eTag: current(bucket, key)?.eTag ?? "", versionID: id)
    }

    public func copyObject(
        sourceBucket: String, sourceKey: String, sourceVersionID: String?, sourceIfMatch: String?,
        destinationBucket: String, destinationKey: String, tags: [S3Tag]?
    ) async throws -> S3WriteResult {
        try enter(.copy, sourceKey)
        let source = try version(sourceBucket, sourceKey, sourceVersionID, ifMatch: sourceIfMatch)
        let id = put(destinationBucket, destinationKey, source.data, tags: tags ?? source.tags)
        return S3WriteResult(eTag: source.eTag, versionID: id)
    }
}
