import Foundation

/// Any JSON value: event shapes vary, so records are read field by field with errors that
/// say which field is missing, instead of one Codable failure for the whole batch.
public enum JSONValue: Sendable, Equatable, Decodable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses JSON text.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// The member of an object, or `nil`.
    public subscript(_ key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The string, or `nil` for other values.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number as a whole number (also from a numeric string), or `nil`.
    public var integer: Int64? {
        switch self {
        case .number(let value) where value == value.rounded() && abs(value) < 9e15: return Int64(value)
        case .string(let value): return Int64(value)
        default: return nil
        }
    }

    /// The array, or `nil` for other values.
    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
