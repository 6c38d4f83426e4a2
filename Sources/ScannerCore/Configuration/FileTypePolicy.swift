import Environment

/// Which file types each scanned bucket (or prefix) accepts, as libclamav's own type
/// detection names them (`PNG`, `JPEG`, `GIF`, `PDF`, ...: its `CL_TYPE_` names without the
/// prefix), never by extension or declared `Content-Type`. An object that is clean but of
/// another type is `BLOCKED`.
///
/// `FILE_TYPE_POLICY` holds rules separated by `;`, each `BUCKET[/PREFIX]=TYPE,TYPE,...`, for
/// example `uploads/avatars/=PNG,JPEG,GIF;invoices=PDF`. For an object the rule with the
/// longest matching prefix in its bucket applies; objects no rule matches accept any type.
public struct FileTypePolicy: Sendable, Equatable {
    /// One rule.
    public struct Rule: Sendable, Equatable {
        public var bucket: String
        public var prefix: String
        public var allowed: Set<String>
    }

    /// The rules, as configured.
    public var rules: [Rule]

    /// The rule for an object, if any.
    public func rule(bucket: String, key: String) -> Rule? {
        rules.filter { $0.bucket == bucket && key.hasPrefix($0.prefix) }.max { $0.prefix.count < $1.prefix.count }
    }

    /// Reads `FILE_TYPE_POLICY`; `nil` when unset (every type is accepted).
    init?(_ reader: EnvironmentReader) throws(ConfigurationError) {
        guard let text = reader.optional("FILE_TYPE_POLICY") else { return nil }
        var rules: [Rule] = []
        for item in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConfigurationError("FILE_TYPE_POLICY", "\"\(item)\" is not BUCKET[/PREFIX]=TYPE,TYPE")
            }
            let location = parts[0].split(separator: "/", maxSplits: 1).map(String.init)
            let types = Set(parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.filter { !$0.isEmpty })
            guard !types.isEmpty, types.allSatisfy({ $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } }) else {
                throw ConfigurationError("FILE_TYPE_POLICY", "\"\(item)\" must list libclamav type names such as PNG,JPEG,PDF")
            }
            let rule = Rule(bucket: location[0], prefix: location.count > 1 ? location[1] : "", allowed: types)
            guard !rules.contains(where: { $0.bucket == rule.bucket && $0.prefix == rule.prefix }) else {
                throw ConfigurationError("FILE_TYPE_POLICY", "\"\(parts[0])\" has two rules")
            }
            rules.append(rule)
        }
        guard !rules.isEmpty else { return nil }
        self.rules = rules
    }
}
