"""Telegram gateway: relays visitors' Telegram chats to Rasa and Rasa's replies back."""
