"""Shutdown with work in flight: SIGTERM waits for an in-flight download within --shutdown-grace,
and a second signal exits at once."""

import signal
import socket
import time
import unittest

from app_double import AppDouble
from harness import Respaldo

APP_TOKEN = "secreto-compartido-shutdown"
SIZE = 64 * 2**20


class ShutdownTest(unittest.TestCase):
    def setUp(self):
        self.app = AppDouble(token=APP_TOKEN, size=SIZE, seed=9).start()
        self.server = Respaldo(args=["--shutdown-grace", "60s", "--probe-interval", "0"]).start()
        self.server.register(name="busy", url=self.app.url, token=APP_TOKEN)
        job = self.server.run_backup("busy")
        self.assertEqual(job["state"], "succeeded", job)
        self.backup_id = job["backup"]["id"]

    def tearDown(self):
        self.server.cleanup()
        self.app.stop()

    def start_stuck_download(self):
        """A client that asks for the backup's content and then reads nothing."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = ("GET /api/backups/%s/content HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (self.backup_id, self.server.admin_token))
        s.sendall(request.encode())
        s.recv(100)  # the response has started
        return s

    def test_second_signal_exits_without_waiting_for_the_grace_period(self):
        stuck = self.start_stuck_download()
        try:
            self.server.proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            self.assertIsNone(self.server.proc.poll(), "the first signal waits for the download")
            started = time.time()
            code = self.server.stop(signal.SIGTERM, timeout=10)
            self.assertEqual(code, 1)
            self.assertLess(time.time() - started, 10)
            self.assertTrue(self.server.wait_log("second signal"), "second signal")
        finally:
            stuck.close()

    def test_first_signal_finishes_once_the_download_is_gone(self):
        stuck = self.start_stuck_download()
        self.server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        self.assertIsNone(self.server.proc.poll())
        stuck.close()  # the write fails, the session ends, shutdown completes
        self.assertEqual(self.server.proc.wait(30), 0)


if __name__ == "__main__":
    unittest.main()
