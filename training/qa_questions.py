"""The questions of the README's greedy Q&A tables (English and Chinese). They are never
used as training prompts (chat_prompts.py drops them), so the tables show generalisation."""

ENGLISH = [
    "What is the capital of France?",
    "How many days are in a week?",
    "What color is the sky on a clear day?",
    "Write a Python function that returns the square of a number.",
    "What is 7 times 8?",
    "Name three fruits.",
    "What does a CPU do in a computer?",
    'Translate "thank you" into French.',
    "Who wrote Romeo and Juliet?",
    "Give me one tip for sleeping better.",
]

CHINESE = [
    "中国的首都是哪里？",
    "一年有几个月？",
    "天空为什么是蓝色的？",
    "请写一个 Python 函数，返回一个数的平方。",
    "三加五等于多少？",
    "请说出三种水果。",
    "电脑的 CPU 有什么作用？",
    "把“谢谢”翻译成英文。",
    "《哈姆雷特》的作者是谁？",
    "给我一个改善睡眠的建议。",
]

ALL = ENGLISH + CHINESE
