import Foundation
import Testing

@testable import ScannerCore

func fixture(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    return try Data(contentsOf: url)
}

@Suite("Event inputs")
struct InvocationEventTests {
    @Test func awsNotificationKeysAreFormDecodedAndNonCreationsIgnored() throws {
        let event = try InvocationEvent.decode(fixture("s3-put-aws.json"))
        #expect(!event.isSQSBatch)
        #expect(event.units.map(\.messageID) == [nil, nil, nil])
        #expect(
            event.units[0].items == [
                .object(
                    ObjectRef(
                        bucket: "uploads", key: "a/b c+% été.zip", versionID: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
                        eTag: "d41d8cd98f00b204e9800998ecf8427e", size: 184
                    ))
            ])
        #expect(
            event.units[1].items == [
                .object(
                    ObjectRef(
                        bucket: "uploads", key: "big.iso", versionID: "v2", eTag: "0123456789abcdef0123456789abcdef-640", size: 5_368_709_120
                    ))
            ])
        guard case .ignored(let reason) = event.units[2].items[0] else {
            Issue.record("not ignored")
            return
        }
        #expect(reason.contains("ObjectRemoved:Delete"))
    }

    @Test func motoNotificationWithoutVersionAndWithEncodedSlashes() throws {
        let event = try InvocationEvent.decode(fixture("s3-put-moto.json"))
        #expect(
            event.units.first?.items == [
                .object(
                    ObjectRef(
                        bucket: "uploads", key: "dir/sub/my file!.txt", versionID: nil, eTag: "9b2cf535f27731c974343645a3985328", size: 44
                    ))
            ])
    }

    @Test func testEventIsIgnored() throws {
        let event = try InvocationEvent.decode(fixture("s3-test-event.json"))
        guard case .ignored(let reason)? = event.units.first?.items.first else {
            Issue.record("not ignored")
            return
        }
        #expect(reason.contains("s3:TestEvent"))
    }

    @Test func sqsBatchKeepsEveryMessageAndRejectsOnlyTheBadOnes() throws {
        let event = try InvocationEvent.decode(fixture("sqs-batch.json"))
        #expect(event.isSQSBatch)
        #expect(event.units.map(\.messageID) == ["m-test", "m-put", "m-garbage", "m-nokey", "m-sns"])
        #expect(event.units[0].items.count == 1)
        if case .ignored = event.units[0].items[0] {} else { Issue.record("test event not ignored") }
        let expected = RecordItem.object(
            ObjectRef(bucket: "uploads", key: "dir/sub/my file!.txt", eTag: "9b2cf535f27731c974343645a3985328", size: 44))
        #expect(event.units[1].items == [expected])
        #expect(event.units[2].items == [.malformed("the message body is not JSON")])
        #expect(event.units[3].items == [.malformed("record 0 in bucket uploads has no s3.object.key")])
        #expect(event.units[4].items == [expected], "an SNS envelope in a message is unwrapped")
    }

    @Test func eventBridgeObjectCreatedKeysAreNotDecoded() throws {
        let event = try InvocationEvent.decode(fixture("eventbridge-object-created.json"))
        #expect(
            event.units.first?.items == [
                .object(
                    ObjectRef(
                        bucket: "uploads", key: "reports/Q4 2026+final%.pdf", versionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                        eTag: "b1946ac92492d2347c6235b4d2611184", size: 5
                    ))
            ])
    }

    @Test func eventBridgeEventsOfOtherKindsAreIgnored() throws {
        let event = try InvocationEvent.decode(Data(#"{"source":"aws.s3","detail-type":"Object Deleted","detail":{}}"#.utf8))
        guard case .ignored? = event.units.first?.items.first else {
            Issue.record("not ignored")
            return
        }
    }

    @Test(arguments: [
        ("[1,2]", "the event is not a JSON object"),
        ("{not json", "the event is not valid JSON"),
        (#"{"hello":"world"}"#, "unrecognised event shape"),
        (#"{"Records":[]}"#, "the event has an empty Records list"),
    ])
    func unusableEventsFailWithAClearMessage(payload: String, message: String) {
        let error = #expect(throws: EventShapeError.self) { try InvocationEvent.decode(Data(payload.utf8)) }
        #expect(error?.description.hasPrefix(message) == true, "\(String(describing: error))")
    }

    @Test func malformedRecordDoesNotHideTheOthers() throws {
        let payload =
            #"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"bad%ZZ"}}},{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"good"}}},{"eventName":"ObjectCreated:Put"}]}"#
        let event = try InvocationEvent.decode(Data(payload.utf8))
        #expect(
            event.units.map(\.items) == [
                [.malformed("record 0 in bucket b has a key that is not valid URL encoding: bad%ZZ")],
                [.object(ObjectRef(bucket: "b", key: "good"))],
                [.malformed("record 2 has no s3 member")],
            ])
    }

    @Test(arguments: [
        ("a+b", "a b"), ("%2B", "+"), ("%25", "%"), ("caf%C3%A9", "café"), ("%F0%9F%98%80", "😀"),
        ("a%2Fb%3Fc%3D1%26d", "a/b?c=1&d"), ("plain", "plain"),
    ])
    func formDecoding(encoded: String, decoded: String) {
        #expect(InvocationEvent.formDecode(encoded) == decoded)
    }

    @Test(arguments: ["%", "%2", "%G1", "%C3%28"])
    func malformedFormEncodingIsRejected(encoded: String) {
        #expect(InvocationEvent.formDecode(encoded) == nil)
    }

    /// The updater's event as EventBridge delivers it to an SQS queue (the rescan rule's
    /// target), and the scanner's own rescan request: neither is an object to scan.
    @Test func definitionsUpdatedAndRescanRequestsAreRecognised() throws {
        let updated = #"""
            {"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Definitions Updated","source":"s3-clamav-scanner",
             "account":"111122223333","time":"2026-12-06T04:10:00Z","region":"eu-west-1","resources":[],
             "detail":{"version":"daily:27461","previousVersion":"daily:27460","signatureCount":8700000,
                       "publishedAt":"2026-12-06T04:10:00Z","uploaded":["daily.cld"]}}
            """#
        let items = InvocationEvent.items(inMessageBody: updated)
        guard case .definitionsUpdated(let update) = try #require(items.first) else {
            Issue.record("not recognised: \(items)")
            return
        }
        #expect(update.version == "daily:27461" && Timestamp.string(update.publishedAt) == "2026-12-06T04:10:00Z")

        let request = RescanRequest(
            bucket: "uploads", prefix: "a b/", definitions: update, modifiedSince: update.publishedAt.addingTimeInterval(-3600),
            continuationToken: "token/+=")
        #expect(InvocationEvent.items(inMessageBody: request.message) == [.rescan(request)])

        let other = #"{"detail-type":"Object Scan Result","source":"s3-clamav-scanner","detail":{}}"#
        guard case .ignored = try #require(InvocationEvent.items(inMessageBody: other).first) else {
            Issue.record("the scanner's own results must not be scanned")
            return
        }
        let broken = #"{"detail-type":"Definitions Updated","source":"s3-clamav-scanner","detail":{"version":"daily:1"}}"#
        guard case .malformed = try #require(InvocationEvent.items(inMessageBody: broken).first) else {
            Issue.record("a Definitions Updated event without publishedAt is malformed")
            return
        }
    }
}
