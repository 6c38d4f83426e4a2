import Foundation

/// What S3 says about an object version (HeadObject, GetObject).
public struct S3ObjectMetadata: Sendable, Equatable {
    /// The size in bytes.
    public var size: Int64
    /// The entity tag, with its quotes removed.
    public var eTag: String
    /// The version ID, when the bucket is versioned.
    public var versionID: String?
    /// When the object was last written.
    public var lastModified: Date?
    /// The `Content-Type`.
    public var contentType: String?
    /// Every checksum S3 stores for the object, when it was asked for them
    /// (`x-amz-checksum-mode: ENABLED`): full-object ones, or a composite one (`-N`).
    public var checksums: [S3Checksum]
    /// The server-side encryption (`x-amz-server-side-encryption`: `AES256`, `aws:kms`,
    /// `aws:kms:dsse`), when S3 names one.
    public var serverSideEncryption: String?
    /// Whether the object is encrypted with a key the customer provides (SSE-C).
    public var customerKeyEncrypted: Bool
    /// User metadata (`x-amz-meta-*`), keys without the prefix, lower case.
    public var userMetadata: [String: String]

    /// The first checksum, when there is one.
    public var checksum: S3Checksum? { checksums.first }

    /// The number of parts of a multipart upload, from the entity tag's `-N` suffix.
    public var partCount: Int? {
        guard let dash = eTag.lastIndex(of: "-") else { return nil }
        return Int(eTag[eTag.index(after: dash)...])
    }

    /// Creates metadata from its parts.
    public init(
        size: Int64, eTag: String, versionID: String? = nil, lastModified: Date? = nil, contentType: String? = nil,
        checksums: [S3Checksum] = [], serverSideEncryption: String? = nil, customerKeyEncrypted: Bool = false,
        userMetadata: [String: String] = [:]
    ) {
        self.size = size
        self.eTag = eTag
        self.versionID = versionID
        self.lastModified = lastModified
        self.contentType = contentType
        self.checksums = checksums
        self.serverSideEncryption = serverSideEncryption
        self.customerKeyEncrypted = customerKeyEncrypted
        self.userMetadata = userMetadata
    }
}

/// A checksum that S3 stores with an object (`x-amz-checksum-*`).
public struct S3Checksum: Sendable, Equatable {
    /// The algorithms S3 offers.
    public enum Algorithm: String, Sendable, CaseIterable {
        /// CRC-32 (the zlib polynomial).
        case crc32 = "CRC32"
        /// CRC-32C (Castagnoli).
        case crc32c = "CRC32C"
        /// CRC-64/NVME.
        case crc64nvme = "CRC64NVME"
        /// SHA-1.
        case sha1 = "SHA1"
        /// SHA-256.
        case sha256 = "SHA256"

        /// The response header that carries it.
        public var headerName: String { "x-amz-checksum-\(rawValue.lowercased())" }
    }

    /// The algorithm.
    public var algorithm: Algorithm
    /// The base64 value; a composite checksum of a multipart object ends in `-N`.
    public var value: String
    /// True for a checksum of the parts of a multipart upload (a checksum of their
    /// checksums), which cannot be checked against the whole body.
    public var isComposite: Bool

    /// Creates a checksum; it is composite when its value ends in `-N` or `composite` says so
    /// (`x-amz-checksum-type: COMPOSITE`).
    public init(algorithm: Algorithm, value: String, composite: Bool = false) {
        self.algorithm = algorithm
        self.value = value
        self.isComposite = composite || value.contains("-")
    }

    /// The value without the `-N` part count.
    var digestValue: String {
        value.split(separator: "-").first.map(String.init) ?? value
    }
}

/// An object tag.
public struct S3Tag: Sendable, Equatable, Hashable {
    /// The tag key (at most 128 characters).
    public var key: String
    /// The tag value (at most 256 characters).
    public var value: String

    /// Creates a tag.
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// The tags of an object's current version, and which version that is.
public struct S3Tagging: Sendable, Equatable {
    public var tags: [S3Tag]
    /// The version the tags belong to; `nil` in an unversioned bucket.
    public var versionID: String?

    public init(tags: [S3Tag], versionID: String?) {
        self.tags = tags
        self.versionID = versionID
    }
}

/// What a GET without a HeadObject first found.
public enum S3DirectGet: Sendable, Equatable {
    /// The object is in the file; its metadata.
    case downloaded(S3ObjectMetadata)
    /// The object is larger than allowed and was not read; its metadata.
    case tooLarge(S3ObjectMetadata)
}

/// The result of a conditional GET into memory.
public enum S3ConditionalGetResult: Sendable, Equatable {
    /// The object changed (or there was no condition): its bytes and metadata.
    case modified(Data, S3ObjectMetadata)
    /// The object still has the entity tag that was given (HTTP 304).
    case notModified
}

/// What S3 answers to a write (PutObject, CompleteMultipartUpload, CopyObject).
public struct S3WriteResult: Sendable, Equatable {
    /// The new object's entity tag, without quotes.
    public var eTag: String
    /// The new version ID, when the bucket is versioned.
    public var versionID: String?

    /// Creates a result (for stand-ins of S3 in tests).
    public init(eTag: String, versionID: String?) {
        self.eTag = eTag
        self.versionID = versionID
    }
}

/// What S3 answers to DeleteObject.
public struct S3DeleteResult: Sendable, Equatable {
    /// The version that was deleted, or of the delete marker created.
    public var versionID: String?
    /// Whether the delete created (or removed) a delete marker.
    public var deleteMarker: Bool

    /// Creates a result (for stand-ins of S3 in tests).
    public init(versionID: String?, deleteMarker: Bool) {
        self.versionID = versionID
        self.deleteMarker = deleteMarker
    }
}

/// One object of a listing.
public struct S3ObjectSummary: Sendable, Equatable {
    /// The key.
    public var key: String
    /// The size in bytes.
    public var size: Int64
    /// The entity tag, without quotes.
    public var eTag: String
    /// When it was last written.
    public var lastModified: Date?

    public init(key: String, size: Int64, eTag: String, lastModified: Date?) {
        self.key = key
        self.size = size
        self.eTag = eTag
        self.lastModified = lastModified
    }
}

/// One page of ListObjectsV2.
public struct S3ListPage: Sendable, Equatable {
    /// The objects of the page.
    public var objects: [S3ObjectSummary]
    /// Common prefixes, when a delimiter was given.
    public var commonPrefixes: [String]
    /// The token for the next page, or `nil` on the last one.
    public var nextContinuationToken: String?

    public init(objects: [S3ObjectSummary], commonPrefixes: [String], nextContinuationToken: String?) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.nextContinuationToken = nextContinuationToken
    }
}

/// Sizes and parallelism of large transfers. The defaults follow the AWS CLI's
/// (`multipart_threshold` 8 MiB, `multipart_chunksize` 8 MiB, 10 concurrent requests).
public struct S3TransferOptions: Sendable, Equatable {
    /// Objects larger than this are downloaded in parallel ranges.
    public var downloadThreshold: Int64
    /// The size of one range.
    public var downloadPartSize: Int64
    /// Ranges in flight at once.
    public var downloadConcurrency: Int
    /// Files larger than this are uploaded with a multipart upload.
    public var uploadThreshold: Int64
    /// The size of one part (at least 5 MiB; grown when the file would need more than 10,000 parts).
    public var uploadPartSize: Int64
    /// Parts in flight at once.
    public var uploadConcurrency: Int
    /// Objects larger than this are copied with a multipart upload of UploadPartCopy parts
    /// (S3 copies at most 5 GiB in one CopyObject).
    public var copyThreshold: Int64
    /// The size of one copied part (at least 5 MiB; grown to fit 10,000 parts).
    public var copyPartSize: Int64

    /// Creates transfer options.
    public init(
        downloadThreshold: Int64 = 8 << 20, downloadPartSize: Int64 = 8 << 20, downloadConcurrency: Int = 10,
        uploadThreshold: Int64 = 16 << 20, uploadPartSize: Int64 = 8 << 20, uploadConcurrency: Int = 8,
        copyThreshold: Int64 = 5 << 30, copyPartSize: Int64 = 512 << 20
    ) {
        self.downloadThreshold = downloadThreshold
        self.downloadPartSize = max(1, downloadPartSize)
        self.downloadConcurrency = max(1, downloadConcurrency)
        self.uploadThreshold = uploadThreshold
        self.uploadPartSize = max(5 << 20, uploadPartSize)
        self.uploadConcurrency = max(1, uploadConcurrency)
        self.copyThreshold = min(5 << 30, copyThreshold)
        self.copyPartSize = min(5 << 30, max(5 << 20, copyPartSize))
    }
}
