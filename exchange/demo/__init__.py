"""The demo: a liquidity bot that keeps the demo markets alive, and a terminal tour of the engine.

The bot is a client like any other: it speaks only the public API (exchange/client.py); its
place in the server (started with the app, its orders cancelled at shutdown) is the composition
root's, exchange/app/demo_bot.py. The venue it trades is ``demo.toml`` beside this file.
"""
