import HTTPTypes

extension HTTPField.Name {
    /// The sync session a write belongs to, and the epoch its client last saw.
    public static let syncSession = HTTPField.Name("X-Sync-Session")!
    public static let syncEpoch = HTTPField.Name("X-Sync-Epoch")!
}
