import Foundation
import Hummingbird

/// Web Push subscriptions from the dashboard's "Notify me" switch (DESIGN §12): the VAPID public
/// key to subscribe with, and the subscriptions themselves. Whoever may read the alerts channel
/// may ask for its alerts to be pushed.
struct PushRoutes {
    let runtime: HeraldRuntime
    /// Subscriptions kept at most: each costs a push per alert.
    var limit = 10_000

    func register(on router: Router<HeraldRequestContext>) {
        router.get("/api/push/key") { _, context in
            try requireWebPush(context)
            let key = try await runtime.notify.vapidKeys.key(from: runtime.notifyStore)
            return jsonResponse("{\"publicKey\":\(JSONText.quoted(key.publicKeyBase64URL))}")
        }
        router.post("/api/push/subscriptions") { request, context in
            try requireWebPush(context)
            let subscription: PushSubscription
            do {
                subscription = try PushSubscription(json: try await request.bodyBytes(limit: 4_096))
            } catch let error as PushSubscriptionError {
                throw APIError.badRequest("not a push subscription: \(error.description)")
            }
            try Self.checkEndpoint(subscription.endpoint)
            let saved = try await runtime.notifyStore.savePushSubscription(endpoint: subscription.endpoint, json: subscription.json, limit: limit)
            if saved == .full {
                throw APIError(.conflict, "too many subscriptions", detail: "Herald keeps at most \(limit) push subscriptions")
            }
            return jsonResponse("{\"endpoint\":\(JSONText.quoted(subscription.endpoint))}", status: saved == .created ? .created : .ok)
        }
        router.delete("/api/push/subscriptions") { request, context in
            try requireWebPush(context)
            let body = try await request.bodyBytes(limit: 4_096)
            guard let json = try? JSONText(validating: body), let endpoint = json.value(at: "endpoint")?.stringValue else {
                throw APIError.badRequest("send {\"endpoint\": \"…\"}, the subscription's endpoint")
            }
            guard try await runtime.notifyStore.deletePushSubscription(endpoint: endpoint) else {
                throw APIError.notFound("no push subscription with that endpoint")
            }
            return Response(status: .noContent)
        }
    }

    private func requireWebPush(_ context: HeraldRequestContext) throws {
        guard runtime.notify.webPushTarget != nil else {
            throw APIError.notFound("no webpush target is configured (notify: in the configuration)")
        }
        try context.requireRead(runtime.semantics.alertsChannel)
    }

    /// Browsers' push services are all https: Herald posts to no other address, except a loopback
    /// one (a push service in a test), so a subscription cannot point it at the local network.
    static func checkEndpoint(_ endpoint: String) throws(APIError) {
        guard let url = URL(string: endpoint), let host = url.host else { throw APIError.badRequest("the endpoint is not a URL") }
        if url.scheme == "https" { return }
        if url.scheme == "http", ListenAddress.isLoopback(host: host) { return }
        throw APIError.badRequest("the endpoint must be an https:// URL (http:// only on loopback)")
    }
}
