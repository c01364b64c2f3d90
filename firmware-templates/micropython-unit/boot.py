# Pepeunit MicroPython unit, boot stage (ESP32): join Wi-Fi with PUC_WIFI_SSID/PUC_WIFI_PASS
# from env.json and set the clock over NTP, so main.py starts online with a real time for its
# log records. Failures are printed, never raised: main.py retries Wi-Fi on its own, and a boot
# loop would make the device unreachable for an update.
import gc
import json
import time

import network

WIFI_TIMEOUT_MS = 20000


def boot():
    try:
        with open('/env.json') as source:
            env = json.load(source)
    except Exception as error:  # no env yet: the device was flashed without its archive
        print('boot: cannot read env.json: %r' % error)
        return
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        print('boot: joining Wi-Fi %s' % env.get('PUC_WIFI_SSID'))
        try:
            wlan.connect(env.get('PUC_WIFI_SSID', ''), env.get('PUC_WIFI_PASS', ''))
        except OSError as error:
            print('boot: Wi-Fi connect failed: %r' % error)
            return
        started = time.ticks_ms()
        while not wlan.isconnected():
            if time.ticks_diff(time.ticks_ms(), started) > WIFI_TIMEOUT_MS:
                print('boot: Wi-Fi not up yet, main.py keeps trying')
                return
            time.sleep_ms(200)
    print('boot: Wi-Fi up %s' % (wlan.ifconfig(),))
    try:
        import ntptime
        ntptime.settime()
        print('boot: clock set over NTP')
    except Exception as error:  # logs go without a timestamp; the backend stamps them
        print('boot: NTP failed: %r' % error)


boot()
gc.collect()
