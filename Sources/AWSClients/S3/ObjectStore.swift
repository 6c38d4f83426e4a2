import Foundation

/// The S3 calls the scanner and the updater make: the seam where tests put an in-memory store
/// with faults between the steps of a scan (an object replaced or deleted meanwhile) or a
/// publication. `S3Client` is the production conformer.
public protocol ObjectStore: Sendable {
    /// HeadObject of one version, optionally only if the entity tag still matches.
    func headObject(bucket: String, key: String, versionID: String?, ifMatch: String?) async throws -> S3ObjectMetadata
    /// GetObject of one version streamed to a file, pinned to the version and entity tag of
    /// the metadata its HeadObject returned.
    func getObject(bucket: String, key: String, versionID: String?, ifMatch: String?, to path: String) async throws -> S3ObjectMetadata
    /// GetObject streamed to a file, pinned to the version and entity tag the caller headed.
    func getObject(bucket: String, key: String, headed metadata: S3ObjectMetadata, to path: String) async throws -> S3ObjectMetadata
    /// GetObject to a file without a HeadObject first (pinned to `versionID` and `ifMatch`
    /// when given); an object over `maxSize` is not read.
    func getObject(bucket: String, key: String, versionID: String?, ifMatch: String?, maxSize: Int64, to path: String) async throws -> S3DirectGet
    /// GetObject into memory, unless the entity tag is still `ifNoneMatch`.
    func getObject(bucket: String, key: String, versionID: String?, ifNoneMatch: String?, maxSize: Int) async throws -> S3ConditionalGetResult
    /// One page of ListObjectsV2 (the current objects under a prefix).
    func listObjectsV2(bucket: String, prefix: String?, delimiter: String?, continuationToken: String?, maxKeys: Int?) async throws -> S3ListPage
    /// The tags of one version.
    func getObjectTagging(bucket: String, key: String, versionID: String?) async throws -> [S3Tag]
    /// The tags of the current version, with its version ID.
    func currentTagging(bucket: String, key: String) async throws -> S3Tagging
    /// Replaces the tags of one version.
    func putObjectTagging(bucket: String, key: String, versionID: String?, tags: [S3Tag]) async throws
    /// Deletes one version (or the object, when `versionID` is `nil`), only if its entity tag
    /// is still `ifMatch` when one is given.
    func deleteObject(bucket: String, key: String, versionID: String?, ifMatch: String?) async throws -> S3DeleteResult
    /// PutObject of a file's bytes.
    func putObject(bucket: String, key: String, fileAt path: String, contentType: String?, tags: [S3Tag]) async throws -> S3WriteResult
    /// PutObject of bytes in memory.
    func putObject(bucket: String, key: String, data: Data, contentType: String?, tags: [S3Tag]) async throws -> S3WriteResult
    /// Copies one version (only if its entity tag is still `sourceIfMatch` when one is given),
    /// replacing its tags when `tags` is given.
    func copyObject(
        sourceBucket: String, sourceKey: String, sourceVersionID: String?, sourceIfMatch: String?,
        destinationBucket: String, destinationKey: String, tags: [S3Tag]?
    ) async throws -> S3WriteResult
}

extension S3Client: ObjectStore {}
