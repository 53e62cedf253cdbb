/// The release this build is (`trestle --version`, `trestle_build_info` on `/metrics`).
public enum BuildInfo {
    public static let version = "0.6.0"
}
