import Environment
import Foundation

/// Which objects of each scanned bucket are scanned at all (`SCAN_FILTERS`). An excluded
/// object is skipped with a log line naming the rule: it gets no verdict and no tag, so the
/// protective bucket policy keeps denying its download unless the operator exempts it.
///
/// `SCAN_FILTERS` is a JSON object keyed by bucket name:
///
/// ```json
/// {"uploads": {"include_prefixes": ["incoming/"], "exclude_prefixes": ["incoming/tmp/"],
///              "include_suffixes": [], "exclude_suffixes": [".part"], "min_size": 1}}
/// ```
///
/// An object is scanned when its key starts with one of `include_prefixes` (or the list is
/// empty), starts with none of `exclude_prefixes`, ends with one of `include_suffixes` (or
/// the list is empty), ends with none of `exclude_suffixes`, and is at least `min_size` bytes.
/// Buckets without an entry are scanned whole.
public struct ScanFilters: Sendable, Equatable {
    /// One bucket's filter.
    public struct Filter: Sendable, Equatable, Encodable {
        public var includePrefixes: [String] = []
        public var excludePrefixes: [String] = []
        public var includeSuffixes: [String] = []
        public var excludeSuffixes: [String] = []
        public var minSize: Int64 = 0

        /// As `SCAN_FILTERS` spells them (`check-config` prints them so).
        enum CodingKeys: String, CodingKey {
            case includePrefixes = "include_prefixes"
            case excludePrefixes = "exclude_prefixes"
            case includeSuffixes = "include_suffixes"
            case excludeSuffixes = "exclude_suffixes"
            case minSize = "min_size"
        }
    }

    /// The filters by bucket.
    public var buckets: [String: Filter]

    /// Why an object is excluded, or `nil` when it is to be scanned. `size` is checked only
    /// when known.
    public func exclusion(bucket: String, key: String, size: Int64?) -> String? {
        guard let filter = buckets[bucket] else { return nil }
        if !filter.includePrefixes.isEmpty, !filter.includePrefixes.contains(where: key.hasPrefix) {
            return "its key starts with none of the included prefixes \(filter.includePrefixes) of SCAN_FILTERS"
        }
        if let prefix = filter.excludePrefixes.first(where: key.hasPrefix) {
            return "its key starts with the excluded prefix \"\(prefix)\" of SCAN_FILTERS"
        }
        if !filter.includeSuffixes.isEmpty, !filter.includeSuffixes.contains(where: key.hasSuffix) {
            return "its key ends with none of the included suffixes \(filter.includeSuffixes) of SCAN_FILTERS"
        }
        if let suffix = filter.excludeSuffixes.first(where: key.hasSuffix) {
            return "its key ends with the excluded suffix \"\(suffix)\" of SCAN_FILTERS"
        }
        if let size, size < filter.minSize {
            return "it is \(size) bytes, under the min_size \(filter.minSize) of SCAN_FILTERS"
        }
        return nil
    }

    /// Reads `SCAN_FILTERS`; `nil` when unset (every object is scanned).
    init?(_ reader: EnvironmentReader) throws(ConfigurationError) {
        guard let text = reader.optional("SCAN_FILTERS") else { return nil }
        func fail(_ problem: String) -> ConfigurationError { ConfigurationError("SCAN_FILTERS", problem) }
        guard case .object(let byBucket) = try? JSONValue.parse(Data(text.utf8)) else {
            throw fail("is not a JSON object keyed by bucket name")
        }
        let lists: [String: WritableKeyPath<Filter, [String]>] = [
            "include_prefixes": \.includePrefixes, "exclude_prefixes": \.excludePrefixes,
            "include_suffixes": \.includeSuffixes, "exclude_suffixes": \.excludeSuffixes,
        ]
        var buckets: [String: Filter] = [:]
        for (bucket, value) in byBucket {
            guard case .object(let fields) = value else { throw fail("the filter of \"\(bucket)\" is not a JSON object") }
            var filter = Filter()
            for (name, value) in fields {
                if let path = lists[name] {
                    let strings = value.array?.compactMap(\.string) ?? []
                    guard strings.count == value.array?.count, !strings.contains(where: \.isEmpty) else {
                        throw fail("\"\(bucket)\".\(name) must be a list of non-empty strings")
                    }
                    filter[keyPath: path] = strings
                } else if name == "min_size" {
                    guard case .number = value, let size = value.integer, size >= 0 else {
                        throw fail("\"\(bucket)\".min_size must be a whole number of bytes, 0 or more")
                    }
                    filter.minSize = size
                } else {
                    throw fail(
                        "\"\(bucket)\" has the unknown field \"\(name)\" (known: include_prefixes, exclude_prefixes, include_suffixes, exclude_suffixes, min_size)"
                    )
                }
            }
            buckets[bucket] = filter
        }
        guard !buckets.isEmpty else { return nil }
        self.buckets = buckets
    }
}
