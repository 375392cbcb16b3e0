// The kinds themselves (names, actions, filters, parent rules) are described once, in the
// EntityKinds module; the API serves them as they are described there.

extension ProcessAction {
    /// The payload keys the action sets, as JSON to set over the item's fields.
    var effects: JSONObject {
        var effects = JSONObject()
        for (key, value) in sets {
            switch value {
            case .bool(let flag): effects[key] = .bool(flag)
            case .string(let text): effects[key] = .string(text)
            }
        }
        return effects
    }
}
