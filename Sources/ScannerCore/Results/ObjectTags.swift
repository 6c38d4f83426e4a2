/// Merges the scanner's tags into an object's existing tags within S3's limits.
///
/// S3 keeps at most 10 tags per object; keys are at most 128 characters and values at most
/// 256, of letters, digits, spaces and `+ - = . _ : / @`
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html).
public enum ObjectTags {
    /// The most tags S3 keeps on one object.
    public static let limit = 10

    /// The merged tag set, in order: the status tag (it always wins), the proof and the
    /// definitions tags it stands on, the signature and file-type tags, the object's other existing tags,
    /// then the time tag while room remains. Returns the tags and the keys of existing tags
    /// that had to be dropped.
    public static func merge(
        existing: [(key: String, value: String)],
        status: String,
        proof: String?,
        definitions: String?,
        signature: String?,
        fileType: String? = nil,
        time: String,
        keys: TagKeys
    ) -> (tags: [(key: String, value: String)], dropped: [String]) {
        var tags: [(key: String, value: String)] = [(keys.status, sanitize(status))]
        if let proof { tags.append((keys.proof, proof)) }
        if let definitions { tags.append((keys.definitions, sanitize(definitions))) }
        if let signature { tags.append((keys.signature, sanitize(signature))) }
        if let fileType { tags.append((keys.fileType, sanitize(fileType))) }
        var dropped: [String] = []
        for tag in existing where !keys.all.contains(tag.key) {
            if tags.count < limit { tags.append(tag) } else { dropped.append(tag.key) }
        }
        if tags.count < limit { tags.append((keys.time, sanitize(time))) }
        return (tags, dropped)
    }

    /// The object's tags without the scanner's.
    public static func withoutScannerTags(_ existing: [(key: String, value: String)], keys: TagKeys) -> [(key: String, value: String)] {
        existing.filter { !keys.all.contains($0.key) }
    }

    /// Whether every character is allowed in an S3 tag.
    public static func isAllowed(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy(isAllowed)
    }

    /// Replaces characters S3 refuses in tag values with `_` and cuts the value to 256 characters.
    public static func sanitize(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.map { isAllowed($0) ? $0 : "_" }).prefix(256))
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == " "
            || "+-=._:/@".unicodeScalars.contains(scalar)
    }
}
