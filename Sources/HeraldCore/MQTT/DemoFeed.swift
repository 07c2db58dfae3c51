import Foundation

/// `herald demo`: a believable gateway feed, published over MQTT like real devices would.
/// Sensors drift with noise and now and then cross a threshold; jobs run for about a minute
/// with progress and sometimes fail.
public struct DemoFeed: Sendable {
    let host: String
    let port: Int
    let interval: Double

    public init(host: String, port: Int, interval: Double = 1) {
        self.host = host
        self.port = port
        self.interval = interval
    }

    struct Job {
        var id: String
        var done = 0
        var total: Int
        var failsAt: Int?
    }

    public func run(for duration: Double? = nil) async throws {
        var options = MosquittoOptions(host: host, port: port, clientID: "herald-demo-\(getpid())")
        options.cleanSession = true
        let client = try MosquittoClient(options: options, handlers: MosquittoHandlers())
        try client.start()
        defer { client.stop() }
        print("herald demo: publishing to mqtt://\(host):\(port) every \(interval) s (Ctrl-C to stop)")

        var temperature = 26.0, humidity = 60.0, power = 900.0, doorOpen = false
        var jobs: [Job] = []
        var jobNumber = 0
        var tick = 0
        let started = Date()
        while !Task.isCancelled {
            if let duration, Date().timeIntervalSince(started) > duration { break }
            // A slow sine plus noise, so the greenhouse overheats for a while every few minutes.
            temperature = 27 + 4.5 * sin(Double(tick) / 40) + Double.random(in: -0.4...0.4)
            humidity = min(95, max(30, humidity + Double.random(in: -1.5...1.5)))
            power = max(120, power + Double.random(in: -80...80) + (Int.random(in: 0..<30) == 0 ? 1500 : 0) * 0.3)
            publish(client, "sensors/greenhouse/temp", "{\"value\":\(round1(temperature)),\"unit\":\"°C\"}")
            publish(client, "sensors/greenhouse/humidity", "{\"value\":\(round1(humidity)),\"unit\":\"%\"}")
            publish(client, "sensors/house/power", "{\"value\":\(Int(power)),\"unit\":\"W\"}")
            if tick % 7 == 0 && Int.random(in: 0..<3) == 0 {
                doorOpen.toggle()
                publish(client, "sensors/garage/door", "{\"value\":\"\(doorOpen ? "open" : "closed")\"}")
            }
            if tick % 20 == 0 && jobs.count < 3 {
                jobNumber += 1
                let total = Int.random(in: 40...80)
                let job = Job(id: "backup-\(jobNumber)", total: total,
                              failsAt: Int.random(in: 0..<5) == 0 ? Int.random(in: total / 3...total - 2) : nil)
                jobs.append(job)
                publish(client, "jobs/\(job.id)/progress", jobPayload(job, state: "queued", message: "waiting for a worker"))
            }
            for index in jobs.indices.reversed() {
                jobs[index].done += Int.random(in: 0...2)
                let job = jobs[index]
                if let failsAt = job.failsAt, job.done >= failsAt {
                    publish(client, "jobs/\(job.id)/progress", jobPayload(job, state: "failed", message: "disk quota exceeded"))
                    jobs.remove(at: index)
                } else if job.done >= job.total {
                    jobs[index].done = job.total
                    publish(client, "jobs/\(job.id)/progress", jobPayload(jobs[index], state: "succeeded", message: "all files copied"))
                    jobs.remove(at: index)
                } else {
                    publish(client, "jobs/\(job.id)/progress", jobPayload(job, state: "running", message: "copying files"))
                }
            }
            tick += 1
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    private func jobPayload(_ job: Job, state: String, message: String) -> String {
        let progress = job.total == 0 ? 0 : Int(Double(job.done) * 100 / Double(job.total))
        return "{\"state\":\"\(state)\",\"progress\":\(progress),\"message\":\"\(message)\",\"done\":\(job.done),\"total\":\(job.total)}"
    }

    private func publish(_ client: MosquittoClient, _ topic: String, _ payload: String) {
        do {
            try client.publish(topic: topic, payload: Array(payload.utf8), qos: 1, retain: false)
        } catch {
            print("herald demo: publish to \(topic) failed: \(error)")
        }
    }

    private func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
