"""The answer the suite must give, computed with Python's exact integers."""


def answer(numbers):
    sum_of_squares = sum(n * n for n in numbers)
    square_of_sum = sum(numbers) ** 2
    return {"sum": sum_of_squares, "square": square_of_sum, "diff": square_of_sum - sum_of_squares}


def query(numbers):
    return "/?" + "&".join(f"n={n}" for n in numbers)
