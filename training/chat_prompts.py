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


MORE_TOPICS = [
    "the Great Wall of China", "the Olympic Games", "jazz", "the violin", "origami", "yoga", "meditation",
    "first aid", "fire safety", "electric cars", "bicycles", "trains", "airplanes", "the internet",
    "smartphones", "social media", "online privacy", "video games", "movies", "cartoons", "comics",
    "Shakespeare", "Greek myths", "fairy tales", "the Renaissance", "the Industrial Revolution",
    "the Silk Road", "the Moon landing", "vaccines", "antibiotics", "the brain", "memory", "habits",
    "procrastination", "happiness", "gratitude", "parenting", "school homework", "exams", "university",
    "renting a flat", "moving house", "buying a used car", "cleaning the kitchen", "laundry", "recipes for soup",
    "vegetarian food", "chocolate", "spices", "the weather", "snow", "deserts", "rainforests", "coral reefs",
    "whales", "penguins", "elephants", "owls", "ants", "trees", "flowers", "mushrooms", "rivers", "islands",
    "maps", "calendars", "clocks", "money", "banks", "credit cards", "shopping", "birthdays", "weddings",
    "holidays", "New Year", "the Spring Festival", "tea ceremonies", "chopsticks", "dumplings", "rice",
    "numbers", "fractions", "geometry", "probability", "statistics", "prime numbers", "the alphabet",
    "grammar", "punctuation", "writing a story", "keeping a diary", "reading faster", "learning Chinese",
]

MORE_TEMPLATES = [
    "My friend says {t} is boring. What would you tell them?", "I have five minutes. Teach me about {t}.",
    "What is one surprising thing about {t}?", "Could you give me an example related to {t}?",
    "Hey, quick question about {t}: where should I start?", "Explain {t} like I'm new to it.",
    "In two or three sentences, what is {t}?", "What are three tips about {t}?",
    "Why do people care about {t}?", "Can you write a short conversation about {t}?",
]

SYSTEMS = [
    "You are a friendly assistant. Answer briefly.",
    "You are a patient teacher who explains things simply.",
    "You are a helpful assistant.",
    "你是一个乐于助人的助手。",
]

ZH_TOPICS = [
    "人工智能", "光合作用", "长城", "太阳系", "互联网", "熊猫", "春节", "中秋节", "饺子", "茶", "书法", "京剧",
    "地震", "火山", "雨季", "四季", "月亮", "海洋", "森林", "恐龙", "蜜蜂", "心脏", "睡眠", "运动", "早餐",
    "学习英语", "学习编程", "时间管理", "面试", "友谊", "家庭", "旅行", "地铁", "自行车", "电动车", "手机",
    "电脑", "数据库", "操作系统", "密码", "网络安全", "机器学习", "数学", "分数", "概率", "历史", "唐诗",
    "孔子", "丝绸之路", "钱", "银行", "购物", "做饭", "米饭", "面条", "猫", "狗", "花", "树", "环境保护",
]

ZH_TEMPLATES = [
    "什么是{t}？", "请简单介绍一下{t}。", "用通俗的话解释{t}。", "关于{t}，给我三个有趣的事实。",
    "{t}为什么重要？", "写一首关于{t}的短诗。", "请用两句话总结{t}。", "怎样向小学生解释{t}？",
    "关于{t}有哪些常见的误解？", "写一个关于{t}的小故事。", "{t}有什么优点和缺点？",
    "我想了解{t}，应该从哪里开始？", "请列出关于{t}的五个问题。", "用一个比喻来解释{t}。",
]

FOLLOW_UPS_EN = [
    "Can you give me an example?", "Can you explain that more simply?", "Tell me more.",
    "Summarize that in one sentence.", "Why is that?", "Thanks! What else should I know?",
    "Can you make it shorter?", "What is the most important part?", "Is that always true?",
    "How would I use this in everyday life?", "Could you put that as a list?", "Great, thank you!",
]

FOLLOW_UPS_ZH = [
    "能举个例子吗？", "请再简单一点。", "再多说一些。", "用一句话总结。", "为什么？", "谢谢！还有什么要注意的？",
    "可以列成清单吗？", "这在日常生活中怎么用？",
]


def is_chinese(p):
    return any("\u4e00" <= ch <= "\u9fff" for ch in p)


def build_prompts(seed=0):
    """Training and held-out prompts; the README's Q&A questions (qa_questions.py) never appear."""
    from qa_questions import ALL as QA
    rng = random.Random(seed)
    prompts = [tmpl.format(t=t) for t in TOPICS + MORE_TOPICS for tmpl in TEMPLATES + MORE_TEMPLATES]
    prompts = rng.sample(prompts, 4000)
    prompts += [tmpl.format(t=t) for t in ZH_TOPICS for tmpl in ZH_TEMPLATES]
    prompts += CODE * 4 + CHINESE * 6 + SIMPLE * 6  # repeats are sampled at other temperatures
    prompts = [p for p in prompts if p not in QA]
    rng.shuffle(prompts)
    return prompts


def held_out(prompt):
    return int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 20 == 0


def chatml(prompt, system=True):
    if system is True:
        system = SYSTEM
    s = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    return s + f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def follow_up(prompt):
    """The next user turn after an answer (the answer ends with <|im_end|>; a newline follows)."""
    return f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


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
        r = rng.random()
        # the template's default system prompt mostly, sometimes another or none
        system = True if r < 0.7 else (rng.choice(SYSTEMS) if r < 0.9 else False)
        ids = tok.encode(chatml(p, system=system)).ids
        item = {"ids": ids, "held_out": held_out(p), "zh": is_chinese(p)}
        if rng.random() < 0.6:  # a second turn
            f = rng.choice(FOLLOW_UPS_ZH if item["zh"] else FOLLOW_UPS_EN)
            item["follow"] = tok.encode(follow_up(f)).ids
        items.append(item)
    with open(os.path.join(WORK, "prompts.json"), "w") as f:
        json.dump(items, f)
    with open(os.path.join(WORK, "sample_prompts.json"), "w") as f:
        from qa_questions import ALL as QA
        json.dump([{"text": q, "ids": tok.encode(chatml(q)).ids} for q in QA], f)
    n_h = sum(i["held_out"] for i in items)
    print(len(items), "prompts,", n_h, "held out, mean length",
          sum(len(i["ids"]) for i in items) / len(items))


if __name__ == "__main__":
    main()
