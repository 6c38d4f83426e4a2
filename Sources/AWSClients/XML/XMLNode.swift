/// A tiny XML reader for the few S3 responses we decode (errors, tagging, listings, copy and
/// multipart results). It handles elements, text, entities, CDATA, comments and the
/// declaration; it ignores attributes and namespaces (S3's responses need neither).
/// FoundationXML would need libxml2 in the Lambda image; this needs nothing.
struct XMLNode: Sendable, Equatable {
    var name: String
    var children: [XMLNode] = []
    var text: String = ""

    /// The first child element with this name.
    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    /// Every child element with this name.
    func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child element with this name.
    func string(_ name: String) -> String? { child(name)?.text }

    /// Parses a document and returns its root element.
    static func parse(_ bytes: some Collection<UInt8>) throws(AWSClientError) -> XMLNode {
        var parser = Parser(bytes: Array(bytes))
        return try parser.document()
    }

    /// Escapes text for element content or attribute values.
    static func escape(_ string: String) -> String {
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for character in string.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func document() throws(AWSClientError) -> XMLNode {
            skipMisc()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "<") else { throw fail("no root element") }
            return try element()
        }

        func fail(_ what: String) -> AWSClientError {
            .invalidResponse("malformed XML at byte \(index): \(what)")
        }

        func starts(with string: String) -> Bool {
            let utf8 = Array(string.utf8)
            return index + utf8.count <= bytes.count && Array(bytes[index..<index + utf8.count]) == utf8
        }

        mutating func skip(past terminator: String) {
            let utf8 = Array(terminator.utf8)
            while index < bytes.count {
                if index + utf8.count <= bytes.count && Array(bytes[index..<index + utf8.count]) == utf8 {
                    index += utf8.count
                    return
                }
                index += 1
            }
        }

        /// Whitespace, the declaration, processing instructions, comments, DOCTYPE.
        mutating func skipMisc() {
            while index < bytes.count {
                if isSpace(bytes[index]) { index += 1 }
                else if starts(with: "<?") { skip(past: "?>") }
                else if starts(with: "<!--") { skip(past: "-->") }
                else if starts(with: "<!") { skip(past: ">") }
                else { return }
            }
        }

        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

        mutating func name() -> String {
            let start = index
            while index < bytes.count, !isSpace(bytes[index]), bytes[index] != UInt8(ascii: ">"), bytes[index] != UInt8(ascii: "/") {
                index += 1
            }
            let full = String(decoding: bytes[start..<index], as: UTF8.self)
            // Drop a namespace prefix: <s3:Key> and <Key> mean the same to us.
            if let colon = full.lastIndex(of: ":") { return String(full[full.index(after: colon)...]) }
            return full
        }

        mutating func element() throws(AWSClientError) -> XMLNode {
            index += 1 // <
            var node = XMLNode(name: name())
            // Attributes are skipped, honouring quotes.
            var quote: UInt8? = nil
            while index < bytes.count {
                let byte = bytes[index]
                if let q = quote {
                    if byte == q { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if byte == UInt8(ascii: "/") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: ">") {
                    index += 2
                    return node
                } else if byte == UInt8(ascii: ">") {
                    index += 1
                    break
                }
                index += 1
            }
            var text: [UInt8] = []
            while true {
                guard index < bytes.count else { throw fail("unterminated <\(node.name)>") }
                if starts(with: "</") {
                    index += 2
                    let closing = name()
                    guard closing == node.name else { throw fail("</\(closing)> closes <\(node.name)>") }
                    skip(past: ">")
                    node.text = try decodeEntities(text)
                    return node
                } else if starts(with: "<![CDATA[") {
                    index += 9
                    let start = index
                    skip(past: "]]>")
                    text.append(contentsOf: bytes[start..<max(start, index - 3)])
                } else if starts(with: "<!--") {
                    skip(past: "-->")
                } else if starts(with: "<?") {
                    skip(past: "?>")
                } else if bytes[index] == UInt8(ascii: "<") {
                    node.children.append(try element())
                } else {
                    if bytes[index] == UInt8(ascii: "&") { text.append(0) } // marks an entity to decode
                    else { text.append(bytes[index]) }
                    index += 1
                }
            }
        }

        /// Entities were marked with a NUL in place of `&`; CDATA content never contains NUL.
        func decodeEntities(_ raw: [UInt8]) throws(AWSClientError) -> String {
            guard raw.contains(0) else { return String(decoding: raw, as: UTF8.self) }
            var out: [UInt8] = []
            var i = 0
            while i < raw.count {
                if raw[i] == 0 {
                    guard let end = raw[i...].firstIndex(of: UInt8(ascii: ";")) else { throw fail("unterminated entity") }
                    let entity = String(decoding: raw[(i + 1)..<end], as: UTF8.self)
                    switch entity {
                    case "amp": out.append(UInt8(ascii: "&"))
                    case "lt": out.append(UInt8(ascii: "<"))
                    case "gt": out.append(UInt8(ascii: ">"))
                    case "quot": out.append(UInt8(ascii: "\""))
                    case "apos": out.append(UInt8(ascii: "'"))
                    default:
                        let value: UInt32?
                        if entity.hasPrefix("#x") || entity.hasPrefix("#X") { value = UInt32(entity.dropFirst(2), radix: 16) }
                        else if entity.hasPrefix("#") { value = UInt32(entity.dropFirst(), radix: 10) }
                        else { value = nil }
                        guard let value, let scalar = Unicode.Scalar(value) else { throw fail("unknown entity &\(entity);") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    }
                    i = end + 1
                } else {
                    out.append(raw[i])
                    i += 1
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
