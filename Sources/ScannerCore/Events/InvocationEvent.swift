import BusEvents
import Foundation

/// What one record of an event asks for.
public enum RecordItem: Sendable, Equatable {
    /// Scan this object version.
    case object(ObjectRef)
    /// The updater published new definitions (`Definitions Updated` on the bus): queue the
    /// rescan, when it is configured.
    case definitionsUpdated(DefinitionsUpdate)
    /// List one bucket (from a position) and queue its objects for a rescan.
    case rescan(RescanRequest)
    /// Nothing to do, and why (a test event, an event that is not a creation).
    case ignored(String)
    /// The record cannot be used; the reason names the problem.
    case malformed(String)
}

/// A unit of work that succeeds or fails as a whole: one SQS message, or one record of a
/// direct S3 or EventBridge event.
public struct WorkUnit: Sendable, Equatable {
    /// The SQS message ID, for partial batch failure reports; `nil` for direct events.
    public let messageID: String?
    /// What the unit asks for (an S3 notification in one message can hold several records).
    public let items: [RecordItem]

    /// Creates a unit.
    public init(messageID: String?, items: [RecordItem]) {
        self.messageID = messageID
        self.items = items
    }
}

/// A Lambda event (or SQS message body) decoded into units of work, accepting every input
/// shape of docs/design.md ("Event inputs the scanner accepts"):
///
/// - S3 notifications (`Records[].s3`), keys form-encoded (`+` is a space), as AWS and moto
///   send them (moto omits `versionId`, encodes `/` as `%2F` and sends `s3:TestEvent` first);
/// - SQS messages whose body is one of these (Lambda's SQS trigger, or the worker's polling),
///   including an SNS notification envelope and an EventBridge event delivered to a queue;
/// - EventBridge `Object Created` events from S3 (keys not encoded).
///
/// A record that cannot be used becomes ``RecordItem/malformed(_:)`` on its own; the others
/// of the batch are kept.
public struct InvocationEvent: Sendable, Equatable {
    /// Whether the event came from SQS, so that failures are reported per message.
    public let isSQSBatch: Bool
    /// The units of work, in event order.
    public let units: [WorkUnit]

    /// Decodes an event; throws only when the payload is not a JSON object at all or has no
    /// recognisable shape.
    public static func decode(_ payload: Data) throws -> InvocationEvent {
        let json: JSONValue
        do {
            json = try JSONValue.parse(payload)
        } catch {
            throw EventShapeError("the event is not valid JSON")
        }
        guard case .object = json else { throw EventShapeError("the event is not a JSON object") }

        if let records = json["Records"]?.array,
            let first = records.first, first["eventSource"]?.string == "aws:sqs" || first["messageId"] != nil
        {
            return InvocationEvent(
                isSQSBatch: true,
                units: records.enumerated().map { index, record in
                    sqsUnit(record, index: index)
                })
        }
        switch items(in: json) {
        case .success(let items):
            return InvocationEvent(isSQSBatch: false, units: items.map { WorkUnit(messageID: nil, items: [$0]) })
        case .failure(let error):
            throw error
        }
    }

    /// Decodes the body of one SQS message (the worker's path).
    public static func items(inMessageBody body: String) -> [RecordItem] {
        guard let json = try? JSONValue.parse(Data(body.utf8)) else {
            return [.malformed("the message body is not JSON")]
        }
        switch items(in: json) {
        case .success(let items): return items
        case .failure(let error): return [.malformed(error.description)]
        }
    }

    private static func sqsUnit(_ record: JSONValue, index: Int) -> WorkUnit {
        guard let messageID = record["messageId"]?.string else {
            return WorkUnit(messageID: nil, items: [.malformed("SQS record \(index) has no messageId")])
        }
        guard let body = record["body"]?.string else {
            return WorkUnit(messageID: messageID, items: [.malformed("SQS message \(messageID) has no body")])
        }
        return WorkUnit(messageID: messageID, items: items(inMessageBody: body))
    }

    /// The records of an S3 notification, SNS envelope or EventBridge event.
    private static func items(in json: JSONValue) -> Result<[RecordItem], EventShapeError> {
        if json["Event"]?.string == "s3:TestEvent" {
            return .success([.ignored("s3:TestEvent for bucket \(json["Bucket"]?.string ?? "?")")])
        }
        if json["Type"]?.string == "Notification", let message = json["Message"]?.string {
            return .success(items(inMessageBody: message))
        }
        if json["detail-type"] != nil || json["source"] != nil {
            return .success([eventBridgeItem(json)])
        }
        if let records = json["Records"]?.array {
            guard !records.isEmpty else { return .failure(EventShapeError("the event has an empty Records list")) }
            return .success(
                records.enumerated().map { index, record in
                    if record["EventSource"]?.string == "aws:sns", let message = record["Sns"]?["Message"]?.string {
                        let nested = items(inMessageBody: message)
                        return nested.count == 1 ? nested[0] : .malformed("SNS record \(index) holds \(nested.count) records; expected 1")
                    }
                    return s3Item(record, index: index)
                })
        }
        return .failure(EventShapeError("unrecognised event shape: expected an S3 notification, an SQS batch or an EventBridge Object Created event"))
    }

    private static func s3Item(_ record: JSONValue, index: Int) -> RecordItem {
        guard let s3 = record["s3"] else { return .malformed("record \(index) has no s3 member") }
        let eventName = record["eventName"]?.string ?? ""
        guard eventName.hasPrefix("ObjectCreated:") else {
            return .ignored("record \(index) is \(eventName.isEmpty ? "an event without a name" : eventName), not ObjectCreated")
        }
        guard let bucket = s3["bucket"]?["name"]?.string, !bucket.isEmpty else {
            return .malformed("record \(index) has no s3.bucket.name")
        }
        guard let encodedKey = s3["object"]?["key"]?.string, !encodedKey.isEmpty else {
            return .malformed("record \(index) in bucket \(bucket) has no s3.object.key")
        }
        guard let key = formDecode(encodedKey) else {
            return .malformed("record \(index) in bucket \(bucket) has a key that is not valid URL encoding: \(encodedKey)")
        }
        let object = s3["object"]
        // The scanner's own records (``ObjectRef/notification``) carry the trigger and the
        // definitions a rescan needs.
        let request = record["eventSource"]?.string == BusEvent.source ? record["scanRequest"] : nil
        return .object(
            ObjectRef(
                bucket: bucket,
                key: key,
                versionID: object?["versionId"]?.string.flatMap { $0.isEmpty ? nil : $0 },
                eTag: object?["eTag"]?.string.map(unquote),
                size: object?["size"]?.integer,
                trigger: request?["trigger"]?.string,
                definitionsNeeded: DefinitionsUpdate(request?["definitions"])
            ))
    }

    private static func eventBridgeItem(_ json: JSONValue) -> RecordItem {
        let detailType = json["detail-type"]?.string ?? ""
        if json["source"]?.string == BusEvent.source {
            switch detailType {
            case BusEvent.DetailType.definitionsUpdated.rawValue:
                return DefinitionsUpdate(json["detail"]).map(RecordItem.definitionsUpdated)
                    ?? .malformed("Definitions Updated event without detail.version and detail.publishedAt")
            case RescanRequest.detailType:
                return RescanRequest(json["detail"]).map(RecordItem.rescan)
                    ?? .malformed("\(RescanRequest.detailType) message without detail.bucket, detail.definitions or detail.modifiedSince")
            default:
                return .ignored("\(detailType.isEmpty ? "an event without a detail-type" : detailType) from \(BusEvent.source) needs no scan")
            }
        }
        guard json["source"]?.string == "aws.s3", detailType == "Object Created" else {
            return .ignored(
                "EventBridge event \(detailType.isEmpty ? "without a detail-type" : detailType) from \(json["source"]?.string ?? "an unknown source") is not an S3 Object Created event"
            )
        }
        guard let detail = json["detail"] else { return .malformed("EventBridge Object Created event has no detail") }
        guard let bucket = detail["bucket"]?["name"]?.string, !bucket.isEmpty else {
            return .malformed("EventBridge Object Created event has no detail.bucket.name")
        }
        guard let key = detail["object"]?["key"]?.string, !key.isEmpty else {
            return .malformed("EventBridge Object Created event in bucket \(bucket) has no detail.object.key")
        }
        let object = detail["object"]
        return .object(
            ObjectRef(
                bucket: bucket,
                key: key,
                versionID: object?["version-id"]?.string.flatMap { $0.isEmpty ? nil : $0 },
                eTag: object?["etag"]?.string.map(unquote),
                size: object?["size"]?.integer
            ))
    }

    /// Decodes `application/x-www-form-urlencoded` text, as S3 encodes keys in notifications:
    /// `+` is a space, `%XX` a byte; the bytes must be UTF-8. `nil` when malformed.
    public static func formDecode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Encodes a key the way S3 does in notifications (the inverse of ``formDecode(_:)``):
    /// a space is `+`, every byte other than an ASCII letter, digit, `-`, `_`, `.` or `*` is `%XX`.
    public static func formEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out.append("+")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func unquote(_ eTag: String) -> String {
        eTag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

/// An event with no recognisable shape.
public struct EventShapeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
