import Foundation
import Hummingbird

/// `POST /api/session` trades a token for an HttpOnly cookie (what a browser page can use with
/// EventSource, which cannot set headers); `DELETE /api/session` ends it and the streams it has open.
struct SessionRoutes {
    let runtime: HeraldRuntime
    let authority: TokenAuthority

    func register(on router: Router<HeraldRequestContext>) {
        router.post("/api/session") { request, _ in
            let body = try await request.bodyBytes(limit: 16 * 1024)
            guard let json = try? JSONText(validating: body),
                  let token = (try? json.objectMembers())?.first(where: { $0.key == "token" })?.value.stringValue else {
                throw APIError.badRequest("the body must be {\"token\": \"...\"}")
            }
            guard authority.isEnabled else {
                return jsonResponse("{\"session\":false,\"detail\":\"no tokens are configured; nothing to sign in to\"}")
            }
            guard let access = authority.access(forToken: token), let name = access.name else {
                throw APIError(.unauthorized, "unauthorized", detail: "unknown token")
            }
            let session = TokenAuthority.newToken()
            let lifetime = runtime.config.server.sessionHours * 3600
            try await runtime.store.createSession(idHash: TokenAuthority.sha256Hex(session), tokenDigest: TokenAuthority.sha256Hex(token),
                                                expiresAt: Clock.nowMilliseconds() + Int64(lifetime * 1000))
            var response = jsonResponse("{\"session\":true,\"name\":\(JSONText.quoted(name)),\"admin\":\(access.admin)}")
            response.setCookie(Cookie(name: Authenticator.cookieName, value: session, maxAge: Int(lifetime), path: "/",
                                      secure: runtime.config.server.tlsCertificate != nil, httpOnly: true, sameSite: .strict))
            return response
        }
        router.delete("/api/session") { request, _ in
            if let session = request.cookies[Authenticator.cookieName]?.value {
                let idHash = TokenAuthority.sha256Hex(session)
                try await runtime.store.deleteSession(idHash: idHash)
                runtime.hub.endStreams(ofSession: idHash)
            }
            var response = jsonResponse("{\"session\":false}")
            response.setCookie(Cookie(name: Authenticator.cookieName, value: "", maxAge: 0, path: "/",
                                      secure: runtime.config.server.tlsCertificate != nil, httpOnly: true, sameSite: .strict))
            return response
        }
    }
}
