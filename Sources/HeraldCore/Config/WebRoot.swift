import Foundation

/// Where the dashboard's files are when the configuration names none (DESIGN §9): the `Web/` of
/// the checkout a binary runs from inside (`make run`, the tests, `.build/…/herald` anywhere on
/// the box), else the installed copy, else `Web` in the working directory; `HeraldServer` stops
/// with a clear error when the one chosen does not exist.
public enum WebRoot {
    public static let installed = "/usr/share/herald/web"

    /// The checkout this binary was built from: three folders above this file.
    static let checkout: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    public static let `default`: String = choose(executable: Bundle.main.executablePath ?? CommandLine.arguments[0])

    static func choose(executable: String, exists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> String {
        let checkoutWeb = checkout + "/Web"
        let executablePath = URL(fileURLWithPath: executable).resolvingSymlinksInPath().path
        if executablePath.hasPrefix(checkout + "/"), exists(checkoutWeb + "/index.html") { return checkoutWeb }
        if exists(installed + "/index.html") { return installed }
        if exists(checkoutWeb + "/index.html") { return checkoutWeb }
        return "Web"
    }

    /// Nil when `root` holds the dashboard; otherwise what to tell the user.
    public static func problem(with root: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "server.web_root \(root) does not exist: it holds the dashboard's files. Set server.web_root to the "
                + "folder with index.html (installed: \(installed); in a checkout: its Web/)"
        }
        guard FileManager.default.fileExists(atPath: root + "/index.html") else {
            return "server.web_root \(root) has no index.html: it is not the dashboard's folder"
        }
        return nil
    }
}
