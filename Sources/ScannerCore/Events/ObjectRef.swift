import BusEvents
import Foundation

/// One S3 object version that an event asks the scanner about.
public struct ObjectRef: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The bucket name.
    public let bucket: String
    /// The object key, decoded.
    public let key: String
    /// The version the event names; `nil` for unversioned buckets (or events that omit it).
    public let versionID: String?
    /// The ETag the event reports, without quotes, when it has one.
    public let eTag: String?
    /// The size the event reports, when it has one.
    public let size: Int64?
    /// Why it is to be scanned when not for its upload (`backfill`, `rescan`): carried by the
    /// messages `scanner enqueue` sends, and into the result event.
    public let trigger: String?
    /// For a rescan: the definitions it is for. The scan uses them or newer ones, loading them
    /// first when this process still holds older ones; carried by the messages the rescan sends.
    public let definitionsNeeded: DefinitionsUpdate?

    /// Creates a reference.
    public init(
        bucket: String, key: String, versionID: String? = nil, eTag: String? = nil, size: Int64? = nil, trigger: String? = nil,
        definitionsNeeded: DefinitionsUpdate? = nil
    ) {
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.eTag = eTag
        self.size = size
        self.trigger = trigger
        self.definitionsNeeded = definitionsNeeded
    }

    public var description: String {
        "s3://\(bucket)/\(key)" + (versionID.map { " (version \($0))" } ?? "")
    }
}

extension ObjectRef {
    /// The S3 notification (one record) the scanner sends itself for this object: queued by
    /// `scanner enqueue` or the rescan, or handed to the large-object queue. The key is
    /// form-encoded as S3 encodes it; `eventSource` is this product's, and `scanRequest`
    /// carries what S3's records have no field for (the trigger, the definitions needed).
    public var notification: String {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // S3's notification field names.
        struct Notification: Encodable {
            struct Record: Encodable {
                struct S3: Encodable {
                    struct Bucket: Encodable { var name: String }
                    struct Object: Encodable {
                        var key: String
                        var versionId: String?
                        var size: Int64?
                        var eTag: String?
                    }
                    var bucket: Bucket
                    var object: Object
                }
                struct ScanRequest: Encodable {
                    var trigger: String?
                    var definitions: DefinitionsUpdate.Wire?
                }
                var eventVersion = "2.1"
                var eventSource = BusEvent.source
                var eventTime: String
                var eventName: String
                var s3: S3
                var scanRequest: ScanRequest
            }
            var Records: [Record]
        }
        let record = Notification.Record(
            eventTime: Timestamp.string(Date()), eventName: "ObjectCreated:" + (trigger.map { $0.prefix(1).uppercased() + $0.dropFirst() } ?? "Put"),
            s3: .init(
                bucket: .init(name: bucket),
                object: .init(key: InvocationEvent.formEncode(key), versionId: versionID, size: size, eTag: eTag)),
            scanRequest: .init(trigger: trigger, definitions: definitionsNeeded?.wire))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain strings and numbers cannot fail.
        return String(decoding: (try? encoder.encode(Notification(Records: [record]))) ?? Data(), as: UTF8.self)
    }
}
