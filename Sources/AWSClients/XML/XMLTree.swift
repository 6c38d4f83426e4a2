import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The element tree of one small XML document (S3's errors, tag sets, listings, copy and
/// multipart results), parsed by FoundationXML's `XMLParser`. Attributes and namespaces are
/// left out: S3's responses need neither. libxml2, which FoundationXML uses, is already in
/// the image: libclamav links it.
struct XMLTree: Sendable, Equatable {
    var name: String
    var children: [XMLTree] = []
    var text: String = ""

    /// The first child element with this name.
    func child(_ name: String) -> XMLTree? { children.first { $0.name == name } }
    /// Every child element with this name.
    func all(_ name: String) -> [XMLTree] { children.filter { $0.name == name } }
    /// The text of the first child element with this name.
    func string(_ name: String) -> String? { child(name)?.text }

    /// Parses a document and returns its root element.
    static func parse(_ bytes: some Collection<UInt8>) throws(AWSClientError) -> XMLTree {
        let builder = Builder()
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = builder
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        guard parser.parse(), let root = builder.root else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element"
            throw AWSClientError.invalidResponse("malformed XML: \(reason)")
        }
        return root
    }

    /// An element with text content, escaped by FoundationXML (for request bodies).
    static func element(_ name: String, _ text: String) -> String {
        XMLElement(name: name, stringValue: text).xmlString
    }

    /// Builds the tree from the parser's events; used by one parse on one thread.
    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLTree?
        private var stack: [XMLTree] = []

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]
        ) {
            stack.append(XMLTree(name: name))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA data: Data) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: data, as: UTF8.self)
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard let finished = stack.popLast() else { return }
            if stack.isEmpty {
                root = finished
            } else {
                stack[stack.count - 1].children.append(finished)
            }
        }
    }
}
