import Foundation
import NIOCore

extension S3Client {
    /// CreateBucket (in the client's region; us-east-1 takes no location constraint).
    public func createBucket(_ bucket: String) async throws {
        let (host, path) = location(bucket: bucket)
        var body: ByteBuffer? = nil
        if core.region != "us-east-1" {
            body = ByteBuffer(
                string:
                    "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(XMLTree.element("LocationConstraint", core.region))</CreateBucketConfiguration>"
            )
        }
        _ = try await core.execute(method: .PUT, host: host, path: path, body: body)
    }

    /// PutBucketVersioning: turns versioning on (or suspends it).
    public func putBucketVersioning(_ bucket: String, enabled: Bool) async throws {
        let (host, path) = location(bucket: bucket)
        let xml =
            "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>\(enabled ? "Enabled" : "Suspended")</Status></VersioningConfiguration>"
        _ = try await core.execute(
            method: .PUT, host: host, path: path, query: [(name: "versioning", value: "")],
            headers: [(name: "Content-Type", value: "application/xml")], body: ByteBuffer(string: xml))
    }
}
