/// Checks tool arguments against the tool's input schema before the handler runs, so every
/// tool answers a wrong call with a sentence saying which argument is wrong and why.
///
/// It understands the schema subset tools here use: an object with `properties` (each with a
/// `type` and optionally an `enum`), `required`, and `additionalProperties: false`.
enum ArgumentCheck {
    static func arguments(_ input: UnsafeBufferPointer<UInt8>, schema: JSONValue) throws(ToolError) -> JSONObject {
        let value: JSONValue
        if input.isEmpty {
            value = .object([:])
        } else {
            do {
                value = try JSONValue.parse(input)
            } catch {
                throw .invalidArgument("the arguments are not valid JSON: \(error)")
            }
        }
        guard let arguments = value.objectValue else {
            throw .invalidArgument("the arguments must be a JSON object, not \(value.typeName)")
        }
        try check(arguments, against: schema)
        return arguments
    }

    static func check(_ arguments: JSONObject, against schema: JSONValue) throws(ToolError) {
        let properties = schema["properties"]?.objectValue ?? [:]
        let required = schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for name in required where arguments[name] == nil || arguments[name] == .null {
            throw .invalidArgument("the argument '\(name)' is required")
        }
        for (name, value) in arguments {
            guard let property = properties[name] else {
                if schema["additionalProperties"] == .bool(false) {
                    let accepted = properties.keys.joined(separator: ", ")
                    throw .invalidArgument("unknown argument '\(name)'; accepted arguments: \(accepted)")
                }
                continue
            }
            // Clients often send null for an optional argument they leave out.
            if value == .null { continue }
            if let type = property["type"]?.stringValue, !matches(value, type: type) {
                throw .invalidArgument("the argument '\(name)' must be \(article(type)) \(type), not \(value.typeName)")
            }
            if let minimum = property["minimum"]?.doubleValue, let number = value.doubleValue, number < minimum {
                throw .invalidArgument("the argument '\(name)' must be at least \(property["minimum"]!.serialized)")
            }
            if let maximum = property["maximum"]?.doubleValue, let number = value.doubleValue, number > maximum {
                throw .invalidArgument("the argument '\(name)' must be at most \(property["maximum"]!.serialized)")
            }
            if let options = property["enum"]?.arrayValue, !options.contains(value) {
                let names = options.map { $0.stringValue ?? $0.serialized }.joined(separator: ", ")
                throw .invalidArgument("the argument '\(name)' must be one of: \(names)")
            }
        }
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("object", .object), ("array", .array), ("number", .number),
            ("null", .null):
            true
        case ("integer", .number): value.int64Value != nil
        case (let other, _): !["string", "boolean", "object", "array", "number", "integer", "null"].contains(other)
        }
    }

    private static func article(_ type: String) -> String {
        ["a", "e", "i", "o", "u"].contains(type.first.map(String.init) ?? "") ? "an" : "a"
    }
}
