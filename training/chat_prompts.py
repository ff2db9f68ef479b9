"""Varied user prompts for the teacher to answer (chat-style distillation text).

Prompts are built from hand-written templates x topics (questions, instructions,
explanations, code, some Chinese), wrapped in the teacher's ChatML template, tokenised, and
written to work/prompts.json. A fixed ~4% of prompts (by hash) is held out: their answers
are used only to measure KL, never to train.

    python chat_prompts.py   -> work/prompts.json
"""
import hashlib
import json
import os
import random

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

TOPICS = [
    # computing
    "the Linux kernel", "a file system", "the shell", "environment variables", "file permissions",
    "package managers", "Debian", "version control", "git branches", "SSH keys", "DNS", "TCP and UDP",
    "HTTP cookies", "a web server", "a database index", "SQL joins", "caching", "compilers",
    "interpreters", "garbage collection", "memory leaks", "threads and processes", "deadlocks",
    "recursion", "sorting algorithms", "binary search", "hash tables", "linked lists", "unit tests",
    "regular expressions", "JSON", "unicode", "encryption", "passwords", "open source licenses",
    "cloud computing", "virtual machines", "containers", "the command line", "text editors",
    "machine learning", "neural networks", "a mixture of experts model", "tokenizers", "overfitting",
    # science and nature
    "photosynthesis", "gravity", "black holes", "the water cycle", "volcanoes", "earthquakes",
    "the immune system", "DNA", "evolution", "electricity", "magnets", "rainbows", "the moon",
    "climate change", "recycling", "bees", "dinosaurs", "the human heart", "sleep", "vitamins",
    "the speed of light", "atoms", "chemical reactions", "the solar system", "tides", "clouds",
    # everyday life and society
    "cooking rice", "baking bread", "saving money", "a monthly budget", "learning a language",
    "time management", "writing an email", "job interviews", "public speaking", "making friends",
    "exercise", "healthy breakfast", "gardening", "keeping a cat", "training a dog", "travel packing",
    "a city bus system", "libraries", "museums", "the history of writing", "the printing press",
    "the Roman Empire", "ancient Egypt", "democracy", "taxes", "inflation", "supply and demand",
    "chess", "football", "music theory", "painting", "photography", "poetry", "board games",
    "coffee", "tea", "the ocean", "mountains", "winter", "a rainy day", "friendship", "kindness",
]

TEMPLATES = [
    "What is {t}?", "Explain {t} in simple terms.", "Can you explain {t} to a ten-year-old?",
    "Give me three interesting facts about {t}.", "Why is {t} important?",
    "What are the pros and cons of {t}?", "Write a short poem about {t}.",
    "Write a haiku about {t}.", "Summarize what you know about {t} in two sentences.",
    "How would you teach {t} to a beginner?", "What is a common misconception about {t}?",
    "List five questions a student might ask about {t}.", "Tell me a short story involving {t}.",
    "Describe {t} in one paragraph.", "What should I know before learning about {t}?",
    "Compare {t} with something from everyday life.", "Write a tweet about {t}.",
    "Give me a step-by-step guide related to {t}.", "What are the main parts of {t}?",
    "How has {t} changed over time?", "Write a short dialogue between two friends about {t}.",
    "Create a quiz question about {t} with the answer.", "What words are related to {t}?",
    "I don't understand {t}. Can you help?", "Write a product description inspired by {t}.",
    "Explain {t} using an analogy.", "what is {t}", "tell me about {t} pls",
    "Is {t} difficult to understand? Why or why not?", "Write a title and an outline for a blog post about {t}.",
]

CODE = [
    "Write a Python function that reverses a string.", "Write a Python function to check if a number is prime.",
    "Write a Python function that counts the words in a sentence.", "How do I read a file line by line in Python?",
    "Write a Python class for a bank account with deposit and withdraw methods.",
    "Explain what a Python list comprehension is, with an example.", "How do I sort a dictionary by value in Python?",
    "Write a bash script that prints the numbers from 1 to 10.", "How do I find all .txt files in a directory with the shell?",
    "Write a SQL query that selects all users older than 30.", "What does `git rebase` do?",
    "How do I undo the last git commit?", "Write a JavaScript function that adds two numbers.",
    "Write a Rust function that returns the largest element of a vector.", "What is the difference between a list and a tuple in Python?",
    "Write a Python function that computes the Fibonacci numbers.", "How can I measure how long a Python function takes?",
    "Fix this code: `for i in range(10) print(i)`", "Write a C function that swaps two integers.",
    "Explain what this does: `ls -la | grep txt`", "How do I install a package on Debian?",
    "Write a Python script that downloads nothing but prints today's date.", "What is a segmentation fault?",
    "Write a regular expression that matches an email address.", "How do I create a virtual environment in Python?",
    "Write a function in Python that merges two sorted lists.", "What is the difference between `==` and `is` in Python?",
    "Write a Python function to flatten a nested list.", "Explain big O notation with examples.",
    "Write a short HTML page with a title and a button.", "How do I make an HTTP request in Python?",
    "Write a Python generator that yields even numbers.", "How does `chmod 755` work?",
    "Write a unit test for a function that adds two numbers.", "What is a race condition?",
    "Write a Python function that checks whether a word is a palindrome.", "Explain what JSON is and show an example.",
    "How do I count lines in a file on Linux?", "Write a Python function that removes duplicates from a list.",
    "What does the `yield` keyword do in Python?",
]

CHINESE = [
    "什么是人工智能？", "请用简单的话解释光合作用。", "给我三个学习英语的建议。", "写一首关于秋天的短诗。",
    "如何保持健康的生活习惯？", "解释一下什么是机器学习。", "Python 是什么？", "怎样提高工作效率？",
    "请介绍一下长城。", "为什么天空是蓝色的？", "如何学习编程？", "什么是 Linux？", "请写一个关于友谊的小故事。",
    "地球为什么会有四季？", "怎样做一碗好吃的面条？", "请解释什么是互联网。", "你好！你是谁？",
    "推荐几本适合初学者的书。", "如何管理自己的时间？", "什么是区块链？", "请用一句话介绍太阳系。",
    "怎样写一封求职信？", "解释一下什么是递归。", "熊猫吃什么？", "如何缓解压力？", "什么是民主？",
    "写一个 Python 函数计算两个数的和。", "请翻译成英文：今天天气很好。", "水的沸点是多少？", "如何养一只猫？",
    "Translate to Chinese: Good morning, how are you?", "用中文解释什么是数据库。",
]

SIMPLE = [
    "Hi!", "Hello, how are you?", "Who are you?", "What can you do?", "Tell me a joke.",
    "What is 2 + 2?", "What is the capital of France?", "How many days are in a week?",
    "What's your favorite color?", "Thank you!", "Can you help me with my homework?",
    "What is the largest planet?", "Give me a fun fact.", "Good morning!", "What time zone is London in?",
    "Name three fruits.", "Recommend a good book.", "What should I cook for dinner?",
    "How do I stay motivated?", "What is the meaning of life?", "Translate 'thank you' into Spanish.",
    "Spell the word 'necessary'.", "What rhymes with cat?", "Count from 1 to 10.",
    "What is the opposite of hot?", "Which is heavier, a kilogram of feathers or a kilogram of iron?",
]


def build_prompts(seed=0):
    rng = random.Random(seed)
    prompts = [tmpl.format(t=t) for t in TOPICS for tmpl in TEMPLATES]
    prompts += CODE * 6 + CHINESE * 8 + SIMPLE * 6  # repeats are sampled at other temperatures
    rng.shuffle(prompts)
    return prompts


def held_out(prompt):
    return int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 25 == 0


def chatml(prompt, system=True):
    s = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n" if system else ""
    return s + f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


SAMPLE_QUESTIONS = [
    "What is the capital of France?",
    "What is Linux?",
    "Explain what a CPU does in one sentence.",
    "Write a Python function that adds two numbers.",
    "Give me three tips for learning a new language.",
    "Why is the sky blue?",
    "How do I list the files in a directory with the shell?",
    "你好，你是谁？",
]


def main():
    tok = Tokenizer.from_file(os.path.join(WORK, "tokenizer.json"))
    rng = random.Random(1)
    items = []
    for p in build_prompts():
        ids = tok.encode(chatml(p, system=rng.random() < 0.85)).ids
        items.append({"ids": ids, "held_out": held_out(p)})
    with open(os.path.join(WORK, "prompts.json"), "w") as f:
        json.dump(items, f)
    with open(os.path.join(WORK, "sample_prompts.json"), "w") as f:
        json.dump([{"text": q, "ids": tok.encode(chatml(q)).ids} for q in SAMPLE_QUESTIONS], f)
    n_h = sum(i["held_out"] for i in items)
    print(len(items), "prompts,", n_h, "held out, mean length",
          sum(len(i["ids"]) for i in items) / len(items))


if __name__ == "__main__":
    main()
