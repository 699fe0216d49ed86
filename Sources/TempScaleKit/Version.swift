public enum TempScale {
    public static let version = "0.1.0"
    public static var toolName: String { "tempscale \(version)" }
}
